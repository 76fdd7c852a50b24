using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Slipway.Server.Api;
using Slipway.Server.Auth;
using Slipway.Server.Blobs;
using Slipway.Server.Domain;
using Slipway.Server.Files;
using Slipway.Server.Storage;
using Slipway.Server.Web;

namespace Slipway.Server;

/// <summary>
/// A running Slipway server: the store opened and migrated, first-start setup done, Kestrel listening on
/// the API, web and files ports. The executable and the tests start it the same way.
/// </summary>
public sealed class SlipwayServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly Stores _stores;

    private SlipwayServer(WebApplication app, Stores stores, ServerOptions options, Uri api, Uri web, Uri files, AdminCredentials? newAdmin)
    {
        _app = app;
        _stores = stores;
        Options = options;
        ApiUrl = api;
        WebUrl = web;
        FilesUrl = files;
        NewAdmin = newAdmin;
    }

    public ServerOptions Options { get; }
    public Uri ApiUrl { get; }
    public Uri WebUrl { get; }
    public Uri FilesUrl { get; }
    /// <summary>The admin key pair made on first start; null on later starts (only its hash is kept).</summary>
    public AdminCredentials? NewAdmin { get; }
    public string ConfigPath => Path.Combine(Options.DataDir, "clearml.conf");
    internal Stores Stores => _stores;
    internal IServiceProvider Services => _app.Services;
    internal IEnumerable<string> Endpoints => _app.Services.GetRequiredService<RpcRouter>().Names;

    public static async Task<SlipwayServer> StartAsync(ServerOptions options, Action<ILoggingBuilder>? logging = null, TimeProvider? clock = null,
        CancellationToken ct = default)
    {
        DataFolder.Prepare(options.DataDir);
        var stores = await Stores.OpenAsync(options.UsesPostgres ? options.Db : null, Path.Combine(options.DataDir, "slipway.db"), ct);
        try
        {
            clock ??= TimeProvider.System;
            var setup = await FirstStart.RunAsync(stores.Docs, clock, ct);
            var filesPort = new FilesPort();
            var app = Build(options, stores, setup, clock, logging, filesPort);
            await app.StartAsync(ct);
            var ports = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses
                .Select(a => new Uri(a.Replace("0.0.0.0", "localhost", StringComparison.Ordinal).Replace("[::]", "localhost", StringComparison.Ordinal)).Port).ToList();
            filesPort.Bound(ports[2], await FirstStart.RecordFilesPortAsync(stores.Docs, ports[2], ct));
            Uri Url(int port) => new($"http://{options.ConfigHost}:{port}");
            var server = new SlipwayServer(app, stores, options, Url(ports[0]), Url(ports[1]), Url(ports[2]), setup.NewAdmin);
            app.Services.GetRequiredService<ServerUrls>().Bound(server.ApiUrl, server.WebUrl, server.FilesUrl);
            ClearmlConf.Write(server.ConfigPath, server.ApiUrl, server.WebUrl, server.FilesUrl, setup.NewAdmin);
            return server;
        }
        catch
        {
            await stores.DisposeAsync();
            throw;
        }
    }

    private static WebApplication Build(ServerOptions options, Stores stores, FirstStart setup, TimeProvider clock, Action<ILoggingBuilder>? logging,
        FilesPort filesPort)
    {
        // Slipway reads no appsettings files; without this the host watches the working directory, recursively, for
        // changes to them, and a server started from /tmp reacts to every file created below it.
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            ContentRootPath = AppContext.BaseDirectory,
            Args = ["--hostBuilder:reloadConfigOnChange=false"],
        });
        builder.Logging.ClearProviders();
        if (logging is not null)
            logging(builder.Logging);
        else
            builder.Logging.AddSimpleConsole(o => o.SingleLine = true).AddFilter("Microsoft", LogLevel.Warning)
                // The web UI's keys live in the data directory as files, unencrypted at rest like the database beside them.
                .AddFilter("Microsoft.AspNetCore.DataProtection", LogLevel.Error)
                .AddFilter(typeof(TokenCookie).FullName, LogLevel.Warning);
        builder.WebHost.UseKestrel(k =>
        {
            k.Limits.MaxRequestBodySize = RpcEndpoint.MaxBodyBytes;
            k.AddServerHeader = false;
        });
        builder.WebHost.UseUrls(
            $"http://{options.Host}:{options.ApiPort}", $"http://{options.Host}:{options.WebPort}", $"http://{options.Host}:{options.FilesPort}");

        var services = builder.Services;
        services.AddSingleton(options);
        services.AddSingleton(clock);
        services.AddSingleton(stores.Docs);
        services.AddSingleton(stores.QueueEntries);
        services.AddSingleton(stores.Events);
        services.AddSingleton(new TokenService(setup.TokenSecret, clock));
        services.AddSingleton<ServerMetrics>();
        // Made by a factory so that the container disposes it (the S3 client) with the app.
        services.AddSingleton<IBlobStore>(_ => options.S3 is { } s3 ? new S3BlobStore(s3) : new LocalBlobStore(Path.Combine(options.DataDir, "files")));
        services.AddSingleton<FileServer>();
        services.AddSingleton(filesPort);
        services.AddSingleton<ServerUrls>();
        services.AddSingleton<FileCleanup>();
        services.AddHostedService<FileCleanupService>();
        services.AddSingleton<TaskDeletion>();
        services.AddSingleton<FilesApi>();
        services.AddSingleton<WorkersApi>();
        services.AddSingleton<TaskWatchdog>();
        services.AddHostedService<TaskWatchdogService>();
        services.AddSingleton<TaskUpdates>();
        services.AddSingleton<QueueResolver>();
        services.AddSingleton<ProjectTree>();
        services.AddSingleton<EventIngestion>();
        services.AddSingleton<ScalarHistogram>();
        services.AddSingleton(new ServerApi(setup.ServerId));
        services.AddSingleton<AuthApi>();
        services.AddSingleton<ProjectsApi>();
        services.AddSingleton<TasksApi>();
        services.AddSingleton<TaskParametersApi>();
        services.AddSingleton<TaskOutputsApi>();
        services.AddSingleton<QueuesApi>();
        services.AddSingleton<EventsApi>();
        services.AddSingleton<ModelsApi>();
        services.AddSingleton<DatasetsApi>();
        services.AddSingleton(sp =>
        {
            var router = new RpcRouter();
            sp.GetRequiredService<ServerApi>().Map(router);
            sp.GetRequiredService<AuthApi>().Map(router);
            sp.GetRequiredService<ProjectsApi>().Map(router);
            sp.GetRequiredService<TasksApi>().Map(router);
            sp.GetRequiredService<TaskParametersApi>().Map(router);
            sp.GetRequiredService<TaskOutputsApi>().Map(router);
            sp.GetRequiredService<QueuesApi>().Map(router);
            sp.GetRequiredService<EventsApi>().Map(router);
            sp.GetRequiredService<ModelsApi>().Map(router);
            sp.GetRequiredService<DatasetsApi>().Map(router);
            sp.GetRequiredService<FilesApi>().Map(router);
            sp.GetRequiredService<WorkersApi>().Map(router);
            return router;
        });
        services.AddSingleton<RpcEndpoint>();
        services.AddWebUi(options);

        var app = builder.Build();
        var endpoint = app.Services.GetRequiredService<RpcEndpoint>();
        var metrics = app.Services.GetRequiredService<ServerMetrics>();
        var tokens = app.Services.GetRequiredService<TokenService>();
        var fileServer = app.Services.GetRequiredService<FileServer>();
        var filesPath = options.FilesPath;
        app.Use(async (http, next) =>
        {
            if (http.Connection.LocalPort == await filesPort.Current)
                await fileServer.HandleAsync(http);
            else if (filesPath.Length > 0 && (http.Request.Path.Value == filesPath || http.Request.Path.StartsWithSegments(filesPath, StringComparison.Ordinal)))
                await fileServer.HandleAsync(http, filesPath);
            else
                await next(http);
        });
        app.MapGet("/health", () => Results.Text("OK"));
        app.MapGet("/metrics", (HttpContext http) =>
        {
            var header = http.Request.Headers.Authorization.ToString();
            try
            {
                tokens.Verify(header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? header[7..].Trim() : "");
            }
            catch (ApiException)
            {
                return Results.Text("unauthorized: send a Bearer token from auth.login\n", statusCode: 401);
            }
            return Results.Text(metrics.ToPrometheus(), "text/plain; version=0.0.4");
        });
        app.MapWebUi(options);
        app.MapMethods("/{**path}", ["GET", "POST", "PUT"], endpoint.HandleAsync);
        return app;
    }

    public Task WaitForShutdownAsync(CancellationToken ct = default) => _app.WaitForShutdownAsync(ct);

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        await _stores.DisposeAsync();
    }
}

public sealed record AdminCredentials(string AccessKey, string SecretKey);

/// <summary>What the server keeps in the store from its first start: the token secret, its id, and the first admin.</summary>
internal sealed record FirstStart(byte[] TokenSecret, string ServerId, AdminCredentials? NewAdmin)
{
    public static readonly Identity System = new("__system__", "system", "slipway", "system");

    public static async Task<FirstStart> RunAsync(IDocumentStore docs, TimeProvider clock, CancellationToken ct)
    {
        var secret = await SettingAsync(docs, "token_secret", () => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(64)), ct);
        var serverId = await SettingAsync(docs, "server_id", () => Guid.NewGuid().ToString("N"), ct);
        AdminCredentials? admin = null;
        if (await docs.CountAsync(Collection.Users, new DocQuery(), ct) == 0)
        {
            var user = await AuthApi.CreateUserAsync(docs, "admin", "admin", "slipway", clock, ct);
            var (accessKey, secretKey) = await AuthApi.NewCredentialsAsync(docs, user, "created on first start", clock, ct);
            admin = new AdminCredentials(accessKey, secretKey);
        }
        await new QueueResolver(docs, clock).EnsureDefaultAsync(System, ct);
        return new FirstStart(Convert.FromHexString(secret), serverId, admin);
    }

    /// <summary>Adds this run's files port to the ports the file server has served on; returns them all.</summary>
    public static async Task<IReadOnlySet<int>> RecordFilesPortAsync(IDocumentStore docs, int port, CancellationToken ct)
    {
        for (var attempt = 0; attempt < 10; attempt++)
        {
            var stored = await docs.GetAsync(Collection.Settings, "files_ports", ct);
            var ports = (stored?.Body["value"] as JsonArray ?? []).Select(p => (int)(Json.GetLong(p) ?? 0)).Where(p => p > 0).ToHashSet();
            if (!ports.Add(port))
                return ports;
            var body = new JsonObject { ["id"] = "files_ports", ["value"] = new JsonArray(ports.Order().Select(p => (JsonNode)p).ToArray()) };
            if (stored is null ? await docs.InsertAsync(Collection.Settings, "files_ports", body, ct) : await docs.ReplaceAsync(Collection.Settings, stored, body, ct))
                return ports;
        }
        return new HashSet<int> { port };
    }

    /// <summary>Reads a setting, creating it once; replicas starting together agree on the first one stored.</summary>
    private static async Task<string> SettingAsync(IDocumentStore docs, string name, Func<string> create, CancellationToken ct)
    {
        if (await docs.GetAsync(Collection.Settings, name, ct) is { } existing)
            return Json.GetString(existing.Body, "value")!;
        await docs.InsertAsync(Collection.Settings, name, new JsonObject { ["id"] = name, ["value"] = create() }, ct);
        return Json.GetString((await docs.GetAsync(Collection.Settings, name, ct))!.Body, "value")!;
    }
}
