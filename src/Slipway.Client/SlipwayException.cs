namespace Slipway.Client;

/// <summary>
/// The one exception the client throws for a failed call: the server's answer (HTTP status, result code and
/// subcode, message), or a transport failure after the retries ran out, or a configuration problem.
/// </summary>
public sealed class SlipwayException : Exception
{
    /// <summary>Creates an exception for a failure that has no server answer (configuration, transport, local files).</summary>
    public SlipwayException(string message, Exception? inner = null) : base(message, inner)
    {
    }

    /// <summary>Creates an exception from the server's error envelope.</summary>
    public SlipwayException(string endpoint, int httpStatus, int resultCode, int resultSubcode, string message)
        : base($"{endpoint}: {message} ({resultCode}/{resultSubcode})")
    {
        Endpoint = endpoint;
        HttpStatus = httpStatus;
        ResultCode = resultCode;
        ResultSubcode = resultSubcode;
        ServerMessage = message;
    }

    /// <summary>The API endpoint that failed, e.g. <c>tasks.enqueue</c>; null when no call was made.</summary>
    public string? Endpoint { get; }

    /// <summary>The HTTP status of the answer; 0 when there was none.</summary>
    public int HttpStatus { get; }

    /// <summary>The envelope's <c>result_code</c> (e.g. 400, 401, 404); 0 when there was no answer.</summary>
    public int ResultCode { get; }

    /// <summary>The envelope's <c>result_subcode</c> (e.g. 101 for an unknown task id).</summary>
    public int ResultSubcode { get; }

    /// <summary>The envelope's <c>result_msg</c>.</summary>
    public string? ServerMessage { get; }
}
