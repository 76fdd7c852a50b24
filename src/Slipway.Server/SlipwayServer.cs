using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Authentication;
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
using Slipway.Server.Core;
using Slipway.Server.Domain;
using Slipway.Server.Domain.Events;
using Slipway.Server.Domain.Projects;
using Slipway.Server.Domain.Queues;
using Slipway.Server.Domain.Serving;
using Slipway.Server.Domain.StoredFiles;
using Slipway.Server.Domain.Tasks;
using Slipway.Server.Domain.Workers;
using Slipway.Server.Files;
using Slipway.Server.Storage;
using Slipway.Wire;
using Slipway.Server.Storage.Documents;
using Slipway.Server.Web;

namespace Slipway.Server;

/// <summary>
/// A running Slipway server: the store opened and migrated, first-start setup done, Kestrel listening on
/// the API, web and files ports. The executable and the tests start it the same way.
/// </summary>
public sealed partial class SlipwayServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly Stores _stores;
    private readonly ILoggerFactory _loggers;

    private SlipwayServer(WebApplication app, Stores stores, ILoggerFactory loggers, ServerOptions options, Uri api, Uri web, Uri files, AdminCredentials? newAdmin)
    {
        _loggers = loggers;
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
    /// <summary>
    /// The admin key pair made on this start (the first, or one after a start that failed to deliver it), also in
    /// clearml.conf; null on later starts (only its hash is kept).
    /// </summary>
    public AdminCredentials? NewAdmin { get; }
    public string ConfigPath => Path.Combine(Options.DataDir, "clearml.conf");
    internal Stores Stores => _stores;
    internal IServiceProvider Services => _app.Services;
    internal IEnumerable<string> Endpoints => _app.Services.GetRequiredService<RpcRouter>().Names;
    internal RpcRouter.Route Route(string endpoint) => _app.Services.GetRequiredService<RpcRouter>().Find(endpoint)!;

    /// <summary>Starts the server; a failure to start throws <see cref="ServerStartException"/> with its cause in one line.</summary>
    public static async Task<SlipwayServer> StartAsync(ServerOptions options, Action<ILoggingBuilder>? logging = null, TimeProvider? clock = null,
        CancellationToken ct = default)
    {
        try
        {
            return await StartCoreAsync(options, logging, clock ?? TimeProvider.System, ct);
        }
        catch (Exception e) when (ServerStartException.Describe(e, options) is { } cause)
        {
            throw new ServerStartException(cause, e);
        }
    }

    private static async Task<SlipwayServer> StartCoreAsync(ServerOptions options, Action<ILoggingBuilder>? logging, TimeProvider clock, CancellationToken ct)
    {
        DataFolder.Prepare(options);
        // One logger factory from the start, so that opening the store (migrations, sort indexes) logs as the server does.
        var loggers = LoggerFactory.Create(b => ConfigureLogging(b, logging));
        Stores stores;
        try
        {
            stores = await Stores.OpenAsync(options.UsesPostgres ? options.Db : null, DataFolder.DatabasePath(options), loggers, ct);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            loggers.Dispose();
            throw new ServerStartException(ServerStartException.DescribeStore(e, options), e);
        }
        WebApplication? app = null;
        try
        {
            var setup = await FirstStart.RunAsync(stores.Docs, clock, ct);
            var filesPort = new FilesPort();
            var listenPorts = new ListenPorts();
            app = Build(options, stores, setup, clock, loggers, filesPort, listenPorts);
            await app.StartAsync(ct);
            var ports = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses
                .Select(a => new Uri(a.Replace("0.0.0.0", "localhost", StringComparison.Ordinal).Replace("[::]", "localhost", StringComparison.Ordinal)).Port).ToList();
            listenPorts.Bound(ports[0], ports[1], ports[2]);
            ChosenPorts.Record(options, ports[0], ports[1], ports[2]);
            filesPort.Bound(await FirstStart.RecordFilesPortAsync(stores.Docs, ports[2], ct));
            Uri Url(int port) => new($"http://{options.ConfigHost}:{port}");
            var configPath = Path.Combine(options.DataDir, "clearml.conf");
            // Only now that the ports are bound: a start that fails before this point leaves no key pair that nobody
            // was given, and one that fails after it (before clearml.conf is written) is caught up on the next start.
            var newAdmin = await FirstStart.AdminKeysToDeliverAsync(stores.Docs, configPath, clock, ct);
            var log = loggers.CreateLogger<SlipwayServer>();
            if (newAdmin is not null)
                Log.AdminKeysMade(log, newAdmin.AccessKey, configPath);
            var server = new SlipwayServer(app, stores, loggers, options, Url(ports[0]), Url(ports[1]), Url(ports[2]), newAdmin);
            app.Services.GetRequiredService<ServerUrls>().Bound(server.ApiUrl, server.WebUrl, server.FilesUrl);
            ClearmlConf.Write(server.ConfigPath, server.ApiUrl, server.WebUrl, server.FilesUrl, newAdmin);
            if (newAdmin is not null)
                await FirstStart.RecordAdminKeysDeliveredAsync(stores.Docs, ct);
            return server;
        }
        catch
        {
            if (app is not null)
            {
                await app.StopAsync(CancellationToken.None);
                await app.DisposeAsync();
            }
            await stores.DisposeAsync();
            loggers.Dispose();
            throw;
        }
    }

    private static void ConfigureLogging(ILoggingBuilder builder, Action<ILoggingBuilder>? logging)
    {
        if (logging is not null)
            logging(builder);
        else
            builder.AddSimpleConsole(o => o.SingleLine = true).AddFilter("Microsoft", LogLevel.Warning)
                // The web UI's keys live in the data directory as files, unencrypted at rest like the database beside them.
                .AddFilter("Microsoft.AspNetCore.DataProtection", LogLevel.Error)
                .AddFilter(typeof(TokenAuthentication).FullName, LogLevel.Warning)
                // A failure to start is reported once, as one line, by whoever started the server (ServerStartException).
                .AddFilter("Microsoft.Extensions.Hosting.Internal.Host", LogLevel.Critical);
    }

    private static WebApplication Build(ServerOptions options, Stores stores, FirstStart setup, TimeProvider clock, ILoggerFactory loggers,
        FilesPort filesPort, ListenPorts listenPorts)
    {
        // Slipway reads no appsettings files; without this the host watches the working directory, recursively, for
        // changes to them, and a server started from /tmp reacts to every file created below it.
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            ContentRootPath = AppContext.BaseDirectory,
            Args = ["--hostBuilder:reloadConfigOnChange=false"],
        });
        builder.Logging.ClearProviders();
        // The host's loggers come from the factory the store was opened with (registered last, so it is the one resolved).
        builder.Services.AddSingleton(loggers);
        builder.WebHost.UseKestrel(k =>
        {
            k.Limits.MaxRequestBodySize = RpcEndpoint.MaxBodyBytes;
            k.AddServerHeader = false;
        });
        var (apiPort, webPort, filesPortNumber) = ChosenPorts.Resolve(options);
        builder.WebHost.UseUrls($"http://{options.Host}:{apiPort}", $"http://{options.Host}:{webPort}", $"http://{options.Host}:{filesPortNumber}");

        var services = builder.Services;
        services.AddSingleton(options);
        services.AddSingleton(clock);
        services.AddSingleton(stores.Docs);
        services.AddSingleton(stores.QueueEntries);
        services.AddSingleton(stores.Events);
        services.AddSingleton(new TokenService(setup.TokenSecret, clock));
        services.AddSingleton<SecurityEpoch>();
        services.AddSingleton<Authenticator>();
        // The default scheme on every port: the API, the file server, /metrics and the web UI read the caller it finds.
        services.AddAuthentication(TokenAuthentication.SchemeName).AddScheme<AuthenticationSchemeOptions, TokenAuthentication>(TokenAuthentication.SchemeName, null);
        services.AddSingleton<LoginThrottle>();
        services.AddSingleton<AuditLog>();
        services.AddSingleton<AccessControl>();
        services.AddSingleton<EntityGuard>();
        services.AddSingleton<FilePermissions>();
        var metrics = new ServerMetrics();
        services.AddSingleton(_ => metrics); // made by the container, so disposed with it
        services.AddMetrics(metrics);
        services.AddSingleton<AutoscalerMetrics>();
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
        services.AddSingleton<AuditApi>();
        services.AddSingleton<LostTasks>();
        services.AddSingleton<WorkerDrain>();
        services.AddSingleton<AutoscalerApi>();
        services.AddSingleton<ServingApi>();
        services.AddSingleton<ViewsApi>();
        services.AddSingleton<ServingAutoUpdate>();
        services.AddSingleton<ControlPlaneSync>();
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
            sp.GetRequiredService<AuditApi>().Map(router);
            sp.GetRequiredService<AutoscalerApi>().Map(router);
            sp.GetRequiredService<ServingApi>().Map(router);
            sp.GetRequiredService<ViewsApi>().Map(router);
            return router;
        });
        services.AddSingleton<RpcPipeline>();
        services.AddSingleton<RpcEndpoint>();
        services.AddWebUi(options);

        var app = builder.Build();
        var endpoint = app.Services.GetRequiredService<RpcEndpoint>();
        var fileServer = app.Services.GetRequiredService<FileServer>();
        var filesPath = options.FilesPath;
        app.Use(async (http, next) =>
        {
            var role = await listenPorts.RoleOfAsync(http.Connection.LocalPort);
            http.Items[typeof(PortRole)] = role;
            // Endpoints are mapped for GET only; a HEAD (link checkers, uptime probes) is answered as the GET, and Kestrel
            // leaves out the body because the request it parsed is still a HEAD.
            if (role == PortRole.Web && HttpMethods.IsHead(http.Request.Method))
                http.Request.Method = HttpMethods.Get;
            if (role == PortRole.Files)
                await fileServer.HandleAsync(http);
            else if (role == PortRole.Api && filesPath.Length > 0
                     && (http.Request.Path.Value == filesPath || http.Request.Path.StartsWithSegments(filesPath, StringComparison.Ordinal)))
                await fileServer.HandleAsync(http, filesPath);
            else
                await next(http);
        });
        // Each port answers its own paths only: the API's catch-all would otherwise answer on the web port, and the
        // UI on the API port, so neither could be exposed without the other.
        // On the web port an unknown address opened in a browser renders the UI's not-found page (status 404 kept), not
        // an empty answer; other methods keep the plain 404.
        app.UseWhen(http => http.Items[typeof(PortRole)] is PortRole.Web && HttpMethods.IsGet(http.Request.Method),
            web => web.UseStatusCodePagesWithReExecute("/not-found", createScopeForStatusCodePages: true));
        app.UseRouting();
        ServesOn.Enforce(app, listenPorts);
        app.MapGet("/health", () => Results.Text("OK")).WithMetadata(new ServesOn(PortRole.Any));
        app.MapMetrics();
        app.MapWebUi(options);
        app.MapMethods("/{**path}", ["GET", "POST", "PUT"], endpoint.HandleAsync).WithMetadata(new ServesOn(PortRole.Api));
        return app;
    }

    public Task WaitForShutdownAsync(CancellationToken ct = default) => _app.WaitForShutdownAsync(ct);

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        await _stores.DisposeAsync();
        _loggers.Dispose();
    }

    private static partial class Log
    {
        // The secret is never logged: it is in clearml.conf (0600) only.
        [LoggerMessage(Level = LogLevel.Information, Message = "Made the admin key pair {AccessKey}; it is in {ConfigPath}")]
        public static partial void AdminKeysMade(ILogger logger, string accessKey, string configPath);
    }
}

public sealed record AdminCredentials(string AccessKey, string SecretKey);

/// <summary>What the server keeps in the store from its first start: the token secret and its id; and the admin's key pair, once delivered.</summary>
internal sealed record FirstStart(byte[] TokenSecret, string ServerId)
{
    public static readonly Identity System = new("__system__", "system", Tenants.Root, Roles.System);

    public static async Task<FirstStart> RunAsync(IDocumentStore docs, TimeProvider clock, CancellationToken ct)
    {
        var secret = await SettingAsync(docs, "token_secret", () => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(64)), ct);
        var serverId = await SettingAsync(docs, "server_id", () => Guid.NewGuid().ToString("N"), ct);
        await new QueueResolver(docs, clock).EnsureDefaultAsync(System, ct);
        return new FirstStart(Convert.FromHexString(secret), serverId);
    }

    /// <summary>
    /// The admin's key pair to hand out on this start, or null when one was delivered before. On the first start
    /// it creates the admin. After a start that died between making the key pair and writing clearml.conf (the
    /// secret is kept only as a hash, so it is lost), it makes the admin a fresh pair; data written before this was
    /// recorded counts as delivered when clearml.conf holds keys.
    /// </summary>
    public static async Task<AdminCredentials?> AdminKeysToDeliverAsync(IDocumentStore docs, string configPath, TimeProvider clock, CancellationToken ct)
    {
        if (await docs.GetAsync(Collection.Settings, AdminKeysDelivered, ct) is not null)
            return null;
        string? user = null;
        if (await docs.CountAsync(Collection.Users, new DocQuery(), ct) > 0)
        {
            if (ClearmlConf.ReadCredentials(configPath) is not null)
            {
                await RecordAdminKeysDeliveredAsync(docs, ct);
                return null;
            }
            var admins = await docs.FindAsync<UserDocument>(new DocQuery().Where(new FieldIn(UserFields.Role, [Roles.Admin])).Where(Tenants.Filter(Tenants.Root)), ct);
            user = admins.OrderBy(a => a.Created, StringComparer.Ordinal).FirstOrDefault()?.Id;
        }
        var label = user is null ? "created on first start" : "created on start: no admin key pair had been delivered";
        user ??= await AuthApi.CreateUserAsync(docs, "admin", Roles.Admin, Tenants.Root, clock, ct);
        var (accessKey, secretKey) = await AuthApi.NewCredentialsAsync(docs, user, label, clock, ct);
        return new AdminCredentials(accessKey, secretKey);
    }

    /// <summary>Records that clearml.conf has the admin's keys, so that later starts make none.</summary>
    public static async Task RecordAdminKeysDeliveredAsync(IDocumentStore docs, CancellationToken ct)
    {
        // A replica that recorded it first wins; the value is the same.
        await docs.InsertAsync(Collection.Settings, AdminKeysDelivered, new JsonObject { ["id"] = AdminKeysDelivered, ["value"] = "true" }, ct);
    }

    private const string AdminKeysDelivered = "admin_keys_delivered";

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
