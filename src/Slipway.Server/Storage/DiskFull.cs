using Microsoft.Data.Sqlite;
using Npgsql;

namespace Slipway.Server.Storage;

/// <summary>
/// Recognizes a write that failed for lack of space, from the disk, SQLite or PostgreSQL: the caller answers
/// 507 with the reason instead of a 500. Each of those writes is undone when it fails (a transaction rolls back,
/// a staged upload is deleted), so the answer also means that nothing of the request was kept.
/// </summary>
public static class DiskFull
{
    private const int Enospc = 28;            // Linux and macOS errno, which .NET puts in HResult
    private const int ErrorDiskFull = unchecked((int)0x80070070);
    private const int ErrorHandleDiskFull = unchecked((int)0x80070027);
    private const int SqliteFull = 13;         // SQLITE_FULL
    private const string PostgresDiskFull = "53100";

    public const string Reason = "Insufficient storage: the server's disk is full; nothing of this request was stored";

    public static bool Is(Exception? e)
    {
        for (; e is not null; e = e.InnerException)
        {
            if (e is IOException { HResult: Enospc or ErrorDiskFull or ErrorHandleDiskFull }
                or SqliteException { SqliteErrorCode: SqliteFull }
                or PostgresException { SqlState: PostgresDiskFull })
                return true;
        }
        return false;
    }
}
