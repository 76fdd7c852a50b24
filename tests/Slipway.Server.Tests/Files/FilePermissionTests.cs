using System.Net;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using Slipway.Server.Auth;
using Slipway.Server.Core;
using Slipway.Server.Tests.Infrastructure;

namespace Slipway.Server.Tests.Files;

/// <summary>The file server applies the API's rules to every path: files follow their tenant and the task or model their path names.</summary>
public abstract class FilePermissionTests(string engine) : ServerTests(engine)
{
    [Fact]
    public async Task A_tasks_files_follow_its_projects_grants()
    {
        var project = await CreateProjectAsync("files-" + Guid.NewGuid().ToString("N")[..6]);
        var task = await CreateTaskAsync("t", project);
        var path = $"proj/t.{task}/artifacts/a/a.bin";
        Assert.Equal(HttpStatusCode.OK, (await Upload(Api.Token!, path)).StatusCode);

        var stranger = await TokenAsync(Roles.Member);
        Assert.Equal(HttpStatusCode.NotFound, (await Files(stranger).GetAsync(path)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await Files(stranger).DeleteAsync(path)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await Upload(stranger, path)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await Upload(stranger, $"proj/t.{task}/artifacts/planted.bin")).StatusCode);

        var (reader, readerId) = await SignInAsNewUserAsync(Roles.Member);
        await Api.OkAsync("projects.set_permissions", new JsonObject { ["project"] = project, ["user"] = readerId, ["level"] = "read" });
        Assert.Equal(HttpStatusCode.OK, (await Files(reader).GetAsync(path)).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await Files(reader).DeleteAsync(path)).StatusCode);
        var many = await Files(reader).PostAsync("/delete_many", new StringContent(new JsonObject { ["files"] = new JsonArray(path) }.ToJsonString()));
        Assert.Contains("write access", await many.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, (await Files(Api.Token!).GetAsync(path)).StatusCode);
    }

    [Fact]
    public async Task Other_files_are_their_tenants_and_changed_only_by_their_uploader_or_an_admin()
    {
        var path = "shared/notes-" + Guid.NewGuid().ToString("N")[..6] + ".txt";
        var uploader = await TokenAsync(Roles.Member);
        Assert.Equal(HttpStatusCode.OK, (await Upload(uploader, path)).StatusCode);
        var colleague = await TokenAsync(Roles.Member);
        Assert.Equal(HttpStatusCode.OK, (await Files(colleague).GetAsync(path)).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await Files(colleague).DeleteAsync(path)).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await Upload(colleague, path)).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await Upload(await TokenAsync(Roles.Viewer), "viewer/new.txt")).StatusCode);

        var otherTenant = await TokenAsync(Roles.Admin, company: "acme-" + Guid.NewGuid().ToString("N")[..6]);
        Assert.Equal(HttpStatusCode.NotFound, (await Files(otherTenant).GetAsync(path)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await Files(otherTenant).DeleteAsync(path)).StatusCode);

        Assert.Equal(HttpStatusCode.OK, (await Files(Api.Token!).DeleteAsync(path)).StatusCode);
        // Once gone, the path is free again for anyone in the tenant.
        Assert.Equal(HttpStatusCode.OK, (await Upload(colleague, path)).StatusCode);
    }

    [Theory]
    [InlineData("p/train.0123456789abcdef0123456789abcdef/artifacts/x.bin", "Tasks", "0123456789abcdef0123456789abcdef")]
    [InlineData("models/0123456789abcdef0123456789abcdef/model.onnx", "Models", "0123456789abcdef0123456789abcdef")]
    [InlineData("p/.datasets/d/d.0123456789abcdef0123456789abcdef/artifacts/data/dataset.x.zip", "Tasks", "0123456789abcdef0123456789abcdef")]
    public void The_entity_a_path_names_is_found(string path, string collection, string id) =>
        Assert.Equal((Enum.Parse<Slipway.Server.Storage.Collection>(collection), id), FilePermissions.EntityOf(path));

    private HttpClient Files(string token)
    {
        var http = new HttpClient { BaseAddress = Server.Server.FilesUrl };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return http;
    }

    private async Task<HttpResponseMessage> Upload(string token, string path) =>
        await Files(token).PostAsync("/", new MultipartFormDataContent { { new ByteArrayContent([1, 2, 3]), "/" + path, "/" + path } });

    private async Task<string> TokenAsync(string role, string? company = null) => (await SignInAsNewUserAsync(role, company)).Token;
}

public sealed class FilePermissionTestsOnSqlite() : FilePermissionTests("sqlite");

public sealed class FilePermissionTestsOnPostgres() : FilePermissionTests("postgres");
