using System.Diagnostics;
using System.IO.Compression;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Slipway.Serving.Tests.Infrastructure;

namespace Slipway.Serving.Tests;

/// <summary>
/// Where a Python-engine version's code runs: a virtual environment built from the version's requirements (offline: the
/// requirement is a wheel the test writes), and a Preprocess that uses numpy under an interpreter that has it.
/// </summary>
public sealed class PythonEnvironmentTests
{
    private static async Task<(ServingFixture Fixture, string Key)> DeployAsync(ServingFixture f, string name, string code, byte[] model, string? requirements)
    {
        await f.InitializeAsync();
        var modelId = await f.RegisterFileAsync(model, "model.json", name);
        var endpoint = await f.CreateEndpointAsync(name);
        var version = await f.AddPythonVersionAsync(endpoint, modelId, await f.UploadCodeAsync(code), requirements);
        var (_, key) = await f.CreateKeyAsync(endpoint);
        await ServingFixture.WaitForAsync(async () =>
        {
            var instances = await f.InstancesAsync(endpoint, version);
            var failed = instances.FirstOrDefault(i => i!["state"]!.GetValue<string>() == "failed");
            Assert.True(failed is null, failed?["reason"]?.GetValue<string>());
            return instances.Any(i => i!["state"]!.GetValue<string>() == "ready");
        }, $"{name} to be ready", TimeSpan.FromSeconds(120));
        return (f, key);
    }

    /// <summary>A minimal wheel (PEP 427) of one module, so pip installs it without an index.</summary>
    private static string Wheel(string folder, string module, string source)
    {
        var path = Path.Combine(folder, $"{module}-1.0-py3-none-any.whl");
        var files = new Dictionary<string, string>
        {
            [$"{module}.py"] = source,
            [$"{module}-1.0.dist-info/METADATA"] = $"Metadata-Version: 2.1\nName: {module}\nVersion: 1.0\n",
            [$"{module}-1.0.dist-info/WHEEL"] = "Wheel-Version: 1.0\nGenerator: slipway-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        };
        var record = new StringBuilder();
        using (var zip = ZipFile.Open(path, ZipArchiveMode.Create))
        {
            foreach (var (name, text) in files)
            {
                var bytes = Encoding.UTF8.GetBytes(text);
                using (var entry = zip.CreateEntry(name).Open())
                    entry.Write(bytes);
                var hash = Convert.ToBase64String(SHA256.HashData(bytes)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
                record.Append($"{name},sha256={hash},{bytes.Length}\n");
            }
            record.Append($"{module}-1.0.dist-info/RECORD,,\n");
            using var recordEntry = zip.CreateEntry($"{module}-1.0.dist-info/RECORD").Open();
            recordEntry.Write(Encoding.UTF8.GetBytes(record.ToString()));
        }
        return path;
    }

    [Fact]
    public async Task A_version_with_requirements_runs_in_a_virtual_environment_built_from_them()
    {
        await using var holder = new FixtureHolder(new ServingFixture());
        var f = holder.Fixture;
        var wheels = Directory.CreateTempSubdirectory("slipway-wheel-").FullName;
        try
        {
            var wheel = Wheel(wheels, "slipway_probe", "ANSWER = 42\n");
            const string code = """
                import sys
                import slipway_probe

                class Preprocess:
                    def process(self, data, state, collect_custom_statistics_fn):
                        return {"answer": slipway_probe.ANSWER, "prefix": sys.prefix, "base": sys.base_prefix}
                """;
            var (_, key) = await DeployAsync(f, "envy", code, "{}"u8.ToArray(), $"# the probe\n{wheel}\n");
            using var response = await f.PostAsync("serve/envy", "{}", key);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var answer = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
            Assert.Equal(42, answer["answer"]!.GetValue<int>());
            var prefix = answer["prefix"]!.GetValue<string>();
            Assert.NotEqual(answer["base"]!.GetValue<string>(), prefix);
            Assert.StartsWith(Path.Combine(f.Folder, "cache", "venvs"), prefix, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(wheels, recursive: true);
        }
    }

    /// <summary>The first of these interpreters that has numpy (Debian's python3-numpy is for /usr/bin/python3; .ci/run installs it).</summary>
    private static string? PythonWithNumpy() => new[] { "python3", "/usr/bin/python3" }.FirstOrDefault(python =>
    {
        try
        {
            using var process = Process.Start(new ProcessStartInfo(python, ["-c", "import numpy"]) { RedirectStandardError = true, UseShellExecute = false })!;
            process.WaitForExit();
            return process.ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false;
        }
    });

    [Fact]
    public async Task A_preprocess_that_uses_numpy_answers_with_its_arrays_as_json()
    {
        var python = PythonWithNumpy();
        Assert.True(python is not null, "no Python with numpy: install python3-numpy (.ci/run does)");
        await using var holder = new FixtureHolder(new ServingFixture(o => o.Python = python!));
        const string code = """
            import json
            import numpy as np

            class Preprocess(object):
                def __init__(self):
                    self._model = None

                def load(self, local_file_name):
                    with open(local_file_name) as f:
                        m = json.load(f)
                    self._model = (np.array(m["w"], dtype=np.float64), np.array(m["b"], dtype=np.float64))

                def preprocess(self, body, state, collect_custom_statistics_fn):
                    return np.array(body.get("features", []), dtype=np.float64)

                def process(self, data, state, collect_custom_statistics_fn):
                    w, b = self._model
                    y = np.atleast_2d(data) @ w + b
                    if collect_custom_statistics_fn:
                        collect_custom_statistics_fn({"mean": np.float32(y.mean())})
                    return y

                def postprocess(self, data, state, collect_custom_statistics_fn):
                    return dict(predict=data, best=np.argmax(data, axis=1))
            """;
        double[,] w = { { 1, 0 }, { 0, 2 }, { -1, 1 } };
        var model = new JsonObject
        {
            ["w"] = new JsonArray(Enumerable.Range(0, 3).Select(r => (JsonNode)new JsonArray(w[r, 0], w[r, 1])).ToArray()),
            ["b"] = new JsonArray(0.5, -0.5),
        };
        var (f, key) = await DeployAsync(holder.Fixture, "numpy", code, Encoding.UTF8.GetBytes(model.ToJsonString()), null);
        using var response = await f.PostAsync("serve/numpy", """{"features": [[1, 2, 3], [0, 1, 0]]}""", key);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var answer = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        // [1,2,3]·w + b = [1-3+0.5, 4+3-0.5] = [-1.5, 6.5]; [0,1,0]·w + b = [0.5, 1.5]
        Assert.Equal([-1.5, 6.5, 0.5, 1.5], answer["predict"]!.AsArray().SelectMany(r => r!.AsArray().Select(v => v!.GetValue<double>())));
        Assert.Equal([1L, 1L], answer["best"]!.AsArray().Select(v => v!.GetValue<long>()));
        Assert.Equal(1, Prometheus.Sample(await f.Http.GetStringAsync("metrics"), "slipway_serving_custom_count_total", "endpoint=\"numpy\"", "version=\"1\"", "variable=\"mean\""));
    }

    /// <summary>Disposes a fixture started inside a test.</summary>
    private sealed class FixtureHolder(ServingFixture fixture) : IAsyncDisposable
    {
        public ServingFixture Fixture { get; } = fixture;

        public async ValueTask DisposeAsync() => await Fixture.DisposeAsync();
    }
}
