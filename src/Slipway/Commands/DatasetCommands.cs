using System.CommandLine;
using System.Globalization;
using System.IO.Compression;
using System.Text.Json.Nodes;
using Slipway.Client.Datasets;

namespace Slipway.Commands;

/// <summary>
/// `slipway dataset create|add|remove|sync|upload|finalize|get|list|search|show|diff|squash|delete`, with clearml-data's habits: create
/// prints the new id, add and remove are recorded on the server (so each step may run in its own process, even on
/// another machine for upload), get prints the local folder.
/// </summary>
public static class DatasetCommands
{
    public static Command Create(CliConsole console) => new("dataset", "Version datasets: create a version, add and remove files, upload, finalize, get a local copy")
    {
        CreateVersion(console), Add(console), Remove(console), Sync(console), Upload(console), Finalize(console), Get(console), List(console), Search(console),
        Show(console), Diff(console), Squash(console), Delete(console),
    };

    private static Option<string> IdOption(string description = "The dataset version id (as 'create' printed it)") =>
        new("--id") { Description = description, Required = true, HelpName = "id" };

    /// <summary>A version chosen by <c>--id</c>, or by <c>--project</c> and <c>--name</c> (and <c>--version</c>; default the latest).</summary>
    private sealed class VersionChoice
    {
        public Option<string?> Id { get; } = new("--id") { Description = "The dataset version id", HelpName = "id" };
        public Option<string?> Project { get; } = new("--project") { Description = "The dataset's project (with --name)", HelpName = "name" };
        public Option<string?> Name { get; } = new("--name") { Description = "The dataset's name (with --project): its latest finalized version unless --version", HelpName = "name" };
        public Option<string?> Version { get; } = new("--version") { Description = "The version string, e.g. 1.0.2 (with --project and --name)", HelpName = "version" };

        public void AddTo(Command command)
        {
            command.Options.Add(Id);
            command.Options.Add(Project);
            command.Options.Add(Name);
            command.Options.Add(Version);
            command.Validators.Add(result =>
            {
                var byId = result.GetValue(Id) is not null;
                var byName = result.GetValue(Project) is not null || result.GetValue(Name) is not null;
                if (byId == byName)
                    result.AddError("give either --id, or --project and --name");
                else if (byName && (result.GetValue(Project) is null || result.GetValue(Name) is null))
                    result.AddError("--project and --name go together");
            });
        }

        public Task<DatasetVersion> ResolveAsync(ClientInvocation run) =>
            run.Get(Id) is { } id
                ? run.Client.Datasets.GetAsync(id, run.CancellationToken)
                : run.Client.Datasets.GetAsync(run.Get(Project)!, run.Get(Name)!, run.Get(Version), cancellationToken: run.CancellationToken);
    }

    private static ClientCommand CreateVersion(CliConsole console)
    {
        var project = new Option<string>("--project") { Description = "The project the dataset belongs to (created when missing)", Required = true, HelpName = "name" };
        var name = new Option<string>("--name") { Description = "The dataset's name", Required = true, HelpName = "name" };
        var parents = new Option<string[]>("--parents") { Description = "Versions this one starts from (their files are inherited)", HelpName = "id", AllowMultipleArgumentsPerToken = true };
        var version = new Option<string?>("--version") { Description = "The version string (default: the next after the latest, e.g. 1.0.3)", HelpName = "version" };
        var tags = new Option<string[]>("--tags") { Description = "Tags for the version", HelpName = "tag", AllowMultipleArgumentsPerToken = true };
        var description = new Option<string?>("--description") { Description = "A description", HelpName = "text" };
        var command = new ClientCommand("create", "Create a new version of a dataset and print its id", console) { project, name, parents, version, tags, description };
        command.SetClientAction(async run =>
        {
            var created = await run.Client.Datasets.CreateAsync(run.Get(project)!, run.Get(name)!, new DatasetCreateOptions
            {
                Parents = run.Get(parents) is { Length: > 0 } p ? p : null,
                Version = run.Get(version),
                Tags = run.Get(tags) is { Length: > 0 } t ? t : null,
                Description = run.Get(description),
            }, run.CancellationToken);
            if (run.Json)
                run.WriteJson(VersionJson(created));
            else
                run.Out.WriteLine(created.Id);
            return ExitCodes.Ok;
        });
        return command;
    }

    private static ClientCommand Add(CliConsole console)
    {
        var id = IdOption();
        var files = new Option<string[]>("--files") { Description = "Files or folders to add", Required = true, HelpName = "path", AllowMultipleArgumentsPerToken = true };
        var wildcard = new Option<string?>("--wildcard") { Description = "Only the files of a folder matching this pattern, e.g. '*.png'", HelpName = "pattern" };
        var folder = new Option<string?>("--dataset-folder") { Description = "Where the files go inside the dataset (default the root)", HelpName = "path" };
        var flat = new Option<bool>("--non-recursive") { Description = "Do not descend into subfolders" };
        var command = new ClientCommand("add", "Add files to an open version (hashed now; uploaded by 'upload')", console) { id, files, wildcard, folder, flat };
        command.SetClientAction(async run =>
        {
            var version = await run.Client.Datasets.GetAsync(run.Get(id)!, run.CancellationToken);
            int added = 0, modified = 0, unchanged = 0;
            foreach (var path in run.Get(files)!)
            {
                var result = await version.AddFilesAsync(path, run.Get(wildcard), run.Get(folder), !run.Get(flat), run.CancellationToken);
                (added, modified, unchanged) = (added + result.Added, modified + result.Modified, unchanged + result.Unchanged);
            }
            await version.SaveAsync(run.CancellationToken);
            if (run.Json)
                run.WriteJson(new JsonObject { ["id"] = version.Id, ["added"] = added, ["modified"] = modified, ["unchanged"] = unchanged, ["pending"] = version.PendingFiles.Count });
            else
                run.Out.WriteLine($"{added} added, {modified} modified, {unchanged} unchanged; {version.PendingFiles.Count} file(s) to upload.");
            return ExitCodes.Ok;
        });
        return command;
    }

    private static ClientCommand Remove(CliConsole console)
    {
        var id = IdOption();
        var files = new Option<string[]>("--files") { Description = "Paths or patterns inside the dataset, e.g. 'old/*' or '*.tmp'", Required = true, HelpName = "pattern", AllowMultipleArgumentsPerToken = true };
        var flat = new Option<bool>("--non-recursive") { Description = "A pattern without folders matches only at the root" };
        var command = new ClientCommand("remove", "Remove files from an open version", console) { id, files, flat };
        command.SetClientAction(async run =>
        {
            var version = await run.Client.Datasets.GetAsync(run.Get(id)!, run.CancellationToken);
            var removed = run.Get(files)!.Sum(pattern => version.RemoveFiles(pattern, !run.Get(flat)));
            if (removed == 0)
                throw CliException.NotFound($"no file of version {version.Id} matches {string.Join(", ", run.Get(files)!)}");
            await version.SaveAsync(run.CancellationToken);
            if (run.Json)
                run.WriteJson(new JsonObject { ["id"] = version.Id, ["removed"] = removed });
            else
                run.Out.WriteLine($"{removed} removed.");
            return ExitCodes.Ok;
        });
        return command;
    }

    /// <summary>The upload settings <c>upload</c>, <c>sync</c> and <c>squash</c> share.</summary>
    private sealed class UploadChoice
    {
        public Option<string?> Output { get; } = new("--output-url") { Description = "Another file server (base URL) to store the files on", HelpName = "url" };
        public Option<int> Chunk { get; } = new("--chunk-size") { Description = "The most MiB one zip chunk holds (default 512)", DefaultValueFactory = _ => 512, HelpName = "mib" };
        public Option<bool> Store { get; } = new("--no-compression") { Description = "Store the files in the zip chunks without compressing them (faster for data that is already compressed)" };

        public void AddTo(Command command)
        {
            command.Options.Add(Output);
            command.Options.Add(Chunk);
            command.Options.Add(Store);
        }

        public DatasetUploadOptions Options(ClientInvocation run)
        {
            Uri? outputUrl = null;
            if (run.Get(Output) is { } url && !Uri.TryCreate(url, UriKind.Absolute, out outputUrl))
                throw new CliException(ExitCodes.Usage, $"--output-url '{url}' is not a URL");
            return new DatasetUploadOptions
            {
                OutputUrl = outputUrl,
                ChunkSize = (long)run.Get(Chunk) << 20,
                Compression = run.Get(Store) ? CompressionLevel.NoCompression : CompressionLevel.Optimal,
            };
        }
    }

    /// <summary>Uploads a version's pending files with a progress bar; returns how many there were.</summary>
    private static async Task<int> UploadPendingAsync(ClientInvocation run, DatasetVersion version, DatasetUploadOptions options)
    {
        var pending = version.PendingFiles.Count;
        var pendingPaths = version.PendingFiles.ToHashSet(StringComparer.Ordinal);
        var pendingBytes = version.Files.Where(f => pendingPaths.Contains(f.RelativePath)).Sum(f => f.Size);
        using var bar = ProgressBar.Start(run.Console, $"{pending} file(s)", pendingBytes);
        await version.UploadAsync(options, bar, run.CancellationToken);
        bar?.Complete();
        return pending;
    }

    private static ClientCommand Sync(CliConsole console)
    {
        var folder = new Option<string>("--folder") { Description = "The local folder the dataset should match", Required = true, HelpName = "dir" };
        var id = new Option<string?>("--id") { Description = "An open version to sync (default: a new version of --project/--name)", HelpName = "id" };
        var project = new Option<string?>("--project") { Description = "The dataset's project, for a new version", HelpName = "name" };
        var name = new Option<string?>("--name") { Description = "The dataset's name, for a new version", HelpName = "name" };
        var parents = new Option<string[]>("--parents")
        {
            Description = "Versions the new one starts from (default: the dataset's latest finalized version, if any)", HelpName = "id", AllowMultipleArgumentsPerToken = true,
        };
        var noParent = new Option<bool>("--no-parent") { Description = "Start the new version empty, even when the dataset has versions" };
        var datasetFolder = new Option<string?>("--dataset-folder") { Description = "The folder inside the dataset that matches --folder (default the root)", HelpName = "path" };
        var skipClose = new Option<bool>("--skip-close") { Description = "Leave the version open: neither upload nor finalize" };
        var upload = new UploadChoice();
        var command = new ClientCommand("sync",
            "Make a version match a local folder: add new and changed files, remove missing ones, then upload and finalize", console)
        {
            folder, id, project, name, parents, noParent, datasetFolder, skipClose,
        };
        upload.AddTo(command);
        command.Validators.Add(result =>
        {
            var byId = result.GetValue(id) is not null;
            var byName = result.GetValue(project) is not null && result.GetValue(name) is not null;
            if (byId == byName)
                result.AddError("give either --id of an open version, or --project and --name for a new one");
            else if (byId && (result.GetValue(parents) is { Length: > 0 } || result.GetValue(noParent)))
                result.AddError("--parents and --no-parent are for a new version, not with --id");
            else if (result.GetValue(parents) is { Length: > 0 } && result.GetValue(noParent))
                result.AddError("--parents and --no-parent contradict each other");
        });
        command.SetClientAction(async run =>
        {
            var local = run.Get(folder)!;
            if (!Directory.Exists(local))
                throw CliException.NotFound($"no folder '{local}'");
            var uploadOptions = upload.Options(run);
            DatasetVersion version;
            if (run.Get(id) is { } versionId)
            {
                version = await run.Client.Datasets.GetAsync(versionId, run.CancellationToken);
            }
            else
            {
                IReadOnlyList<string>? from = run.Get(parents) is { Length: > 0 } given ? given : null;
                if (from is null && !run.Get(noParent))
                {
                    var existing = await run.Client.Datasets.ListVersionsAsync(run.Get(project)!, run.Get(name)!, run.CancellationToken);
                    if (existing.Any(v => v.IsFinal))
                        from = [(await run.Client.Datasets.GetAsync(run.Get(project)!, run.Get(name)!, cancellationToken: run.CancellationToken)).Id];
                }
                version = await run.Client.Datasets.CreateAsync(run.Get(project)!, run.Get(name)!, new DatasetCreateOptions { Parents = from }, run.CancellationToken);
            }
            var synced = await version.SyncFolderAsync(local, run.Get(datasetFolder), run.CancellationToken);
            if (run.Get(skipClose))
                await version.SaveAsync(run.CancellationToken);
            else
            {
                await UploadPendingAsync(run, version, uploadOptions);
                await version.FinalizeAsync(run.CancellationToken);
            }
            if (run.Json)
            {
                var json = VersionJson(version);
                json["added"] = synced.Added;
                json["modified"] = synced.Modified;
                json["removed"] = synced.Removed;
                json["unchanged"] = synced.Unchanged;
                run.WriteJson(json);
            }
            else
            {
                run.Out.WriteLine(version.Id);
                run.Note($"{synced.Added} added, {synced.Modified} modified, {synced.Removed} removed, {synced.Unchanged} unchanged; "
                    + (version.IsFinal ? $"finalized {version.Project}/{version.Name} {version.Version}." : $"{version.PendingFiles.Count} file(s) to upload, version left open."));
            }
            return ExitCodes.Ok;
        });
        return command;
    }

    private static ClientCommand Squash(CliConsole console)
    {
        var ids = new Option<string[]>("--ids") { Description = "The versions to merge, in order: a later one's file wins on the same path", Required = true, HelpName = "id", AllowMultipleArgumentsPerToken = true };
        var project = new Option<string?>("--project") { Description = "The new version's project (default the first version's)", HelpName = "name" };
        var name = new Option<string?>("--name") { Description = "The new version's dataset name (default the first version's)", HelpName = "name" };
        var version = new Option<string?>("--version") { Description = "The version string (default: the next after the dataset's latest)", HelpName = "version" };
        var cache = new Option<string?>("--cache-dir") { Description = "The cache root the versions are fetched into", HelpName = "dir" };
        var upload = new UploadChoice();
        var command = new ClientCommand("squash", "Merge versions into one new version with no parents (files fetched, checked and uploaded again) and print its id", console)
        {
            ids, project, name, version, cache,
        };
        upload.AddTo(command);
        command.SetClientAction(async run =>
        {
            var chosen = run.Get(ids)!;
            var sources = new List<DatasetVersion>();
            foreach (var sourceId in chosen)
                sources.Add(await run.Client.Datasets.GetAsync(sourceId, run.CancellationToken));
            var merged = sources.SelectMany(v => v.Files).GroupBy(f => f.RelativePath).Sum(g => g.Last().Size);
            DatasetVersion squashed;
            using (var bar = ProgressBar.Start(run.Console, $"squash {chosen.Length} versions", sources.Sum(v => v.TotalSize) + merged))
            {
                squashed = await run.Client.Datasets.SquashAsync(run.Get(project) ?? sources[0].Project, run.Get(name) ?? sources[0].Name, chosen, new DatasetSquashOptions
                {
                    Version = run.Get(version),
                    CacheDirectory = run.Get(cache),
                    Upload = upload.Options(run),
                }, bar, run.CancellationToken);
                bar?.Complete();
            }
            if (run.Json)
                run.WriteJson(VersionJson(squashed));
            else
            {
                run.Out.WriteLine(squashed.Id);
                run.Note($"Squashed {chosen.Length} versions into {squashed.Project}/{squashed.Name} {squashed.Version} ({squashed.Files.Count} files, {Output.Bytes(squashed.TotalSize)}).");
            }
            return ExitCodes.Ok;
        });
        return command;
    }

    private static ClientCommand Upload(CliConsole console)
    {
        var id = IdOption();
        var upload = new UploadChoice();
        var command = new ClientCommand("upload", "Upload the files added to a version (a progress bar on stderr when it is a terminal)", console) { id };
        upload.AddTo(command);
        command.SetClientAction(async run =>
        {
            var version = await run.Client.Datasets.GetAsync(run.Get(id)!, run.CancellationToken);
            var pending = await UploadPendingAsync(run, version, upload.Options(run));
            if (run.Json)
                run.WriteJson(new JsonObject { ["id"] = version.Id, ["uploaded"] = pending });
            else
                run.Out.WriteLine($"{pending} file(s) uploaded.");
            return ExitCodes.Ok;
        });
        return command;
    }

    private static ClientCommand Finalize(CliConsole console)
    {
        var id = IdOption();
        var command = new ClientCommand("finalize", "Close a version (after upload): it becomes read-only and readable", console) { id };
        command.SetClientAction(async run =>
        {
            var version = await run.Client.Datasets.GetAsync(run.Get(id)!, run.CancellationToken);
            await version.FinalizeAsync(run.CancellationToken);
            if (run.Json)
                run.WriteJson(VersionJson(version));
            else
                run.Out.WriteLine($"Finalized {version.Id} ({version.Project}/{version.Name} {version.Version}, {version.Files.Count} files, {Output.Bytes(version.TotalSize)}).");
            return ExitCodes.Ok;
        });
        return command;
    }

    private static ClientCommand Get(CliConsole console)
    {
        var choice = new VersionChoice();
        var copy = new Option<string?>("--copy") { Description = "Also copy the files into this folder (empty or missing, unless --overwrite)", HelpName = "dir" };
        var overwrite = new Option<bool>("--overwrite") { Description = "Empty a non-empty --copy folder first" };
        var cache = new Option<string?>("--cache-dir") { Description = "The cache root (default: SLIPWAY_CACHE_DIR/datasets, else ~/.slipway/cache/datasets)", HelpName = "dir" };
        var verify = new Option<bool>("--verify") { Description = "On a cache hit, re-hash every cached file" };
        var sizesOnly = new Option<bool>("--sizes-only")
        {
            Description = "Check downloaded files by size only, not against their SHA-256 (as the ClearML SDK's get_local_copy; faster on fast disks)",
        };
        var command = new ClientCommand("get", "Get a local copy of a finalized version (cached and checked against its hashes) and print its folder", console);
        choice.AddTo(command);
        command.Options.Add(copy);
        command.Options.Add(overwrite);
        command.Options.Add(cache);
        command.Options.Add(verify);
        command.Options.Add(sizesOnly);
        command.SetClientAction(async run =>
        {
            var version = await choice.ResolveAsync(run);
            DatasetLocalCopy local;
            using (var bar = ProgressBar.Start(run.Console, $"{version.Name} {version.Version}", version.TotalSize))
            {
                local = await version.GetLocalCopyAsync(new LocalCopyOptions
                {
                    CopyTo = run.Get(copy),
                    Overwrite = run.Get(overwrite),
                    CacheDirectory = run.Get(cache),
                    VerifyCachedHashes = run.Get(verify),
                    VerifyHashes = !run.Get(sizesOnly),
                }, bar, run.CancellationToken);
                bar?.Complete();
            }
            if (run.Json)
                run.WriteJson(new JsonObject
                {
                    ["id"] = version.Id, ["path"] = local.Path, ["files"] = local.Files.Count, ["from_cache"] = local.FromCache, ["bytes_downloaded"] = local.BytesDownloaded,
                });
            else
                run.Out.WriteLine(local.Path);
            return ExitCodes.Ok;
        });
        return command;
    }

    private static ClientCommand List(CliConsole console)
    {
        var project = new Option<string?>("--project") { Description = "Only datasets of this project", HelpName = "name" };
        var versions = new Option<bool>("--versions") { Description = "One row per version instead of per dataset" };
        var command = new ClientCommand("list", "List datasets with their latest version (or every version with --versions)", console) { project, versions };
        command.SetClientAction(async run =>
        {
            WriteDatasets(run, await run.Client.Datasets.ListAsync(run.Get(project), run.CancellationToken), run.Get(versions));
            return ExitCodes.Ok;
        });
        return command;
    }

    private static ClientCommand Search(CliConsole console)
    {
        var project = new Option<string?>("--project") { Description = "Only datasets of this project", HelpName = "name" };
        var name = new Option<string?>("--name") { Description = "Only datasets whose name matches this regular expression", HelpName = "regex" };
        var tags = new Option<string[]>("--tag") { Description = "Only versions with this tag; repeat for all of several", HelpName = "tag" };
        var versions = new Option<bool>("--versions") { Description = "One row per matching version instead of per dataset" };
        var command = new ClientCommand("search", "Find datasets by project, name (regular expression) and version tags", console) { project, name, tags, versions };
        command.SetClientAction(async run =>
        {
            System.Text.RegularExpressions.Regex? pattern;
            try
            {
                pattern = run.Get(name) is { } text ? new System.Text.RegularExpressions.Regex(text, System.Text.RegularExpressions.RegexOptions.IgnoreCase, TimeSpan.FromSeconds(1)) : null;
            }
            catch (ArgumentException e)
            {
                throw CliException.Usage($"--name is not a valid regular expression: {e.Message}");
            }
            var wanted = run.Get(tags) ?? [];
            var found = (await run.Client.Datasets.ListAsync(run.Get(project), run.CancellationToken))
                .Where(d => pattern is null || pattern.IsMatch(d.Name))
                .Select(d => d with { Versions = d.Versions.Where(v => wanted.All(v.Tags.Contains)).ToList() })
                .Where(d => d.Versions.Count > 0)
                .ToList();
            WriteDatasets(run, found, run.Get(versions));
            return ExitCodes.Ok;
        });
        return command;
    }

    /// <summary>Datasets as a table (one row per dataset, or per version) or as JSON.</summary>
    private static void WriteDatasets(ClientInvocation run, IReadOnlyList<DatasetInfo> datasets, bool perVersion)
    {
        {
            if (run.Json)
            {
                run.WriteJson(new JsonArray(datasets.Select(d => (JsonNode)new JsonObject
                {
                    ["project"] = d.Project,
                    ["name"] = d.Name,
                    ["latest"] = d.Latest?.Id,
                    ["versions"] = new JsonArray(d.Versions.Select(v => (JsonNode)VersionInfoJson(v)).ToArray()),
                }).ToArray()));
                return;
            }
            if (datasets.Count == 0)
            {
                run.Note("No datasets.");
                return;
            }
            var table = perVersion
                ? new Table("PROJECT", "NAME", "VERSION", "ID", "STATE", "FILES", "SIZE", "UPDATED").AlignRight("FILES", "SIZE")
                : new Table("PROJECT", "NAME", "LATEST", "ID", "VERSIONS", "FILES", "SIZE", "UPDATED").AlignRight("VERSIONS", "FILES", "SIZE");
            foreach (var d in datasets)
            {
                if (perVersion)
                {
                    foreach (var v in d.Versions)
                        table.Add(d.Project, d.Name, v.Version ?? "-", v.Id, v.IsFinal ? "final" : "open", Count(v.FileCount), Size(v.TotalSize), Output.Ago(v.LastUpdate, run.Now));
                }
                else
                {
                    var v = d.Latest;
                    table.Add(d.Project, d.Name, v?.Version ?? "-", v?.Id ?? "-", d.Versions.Count.ToString(CultureInfo.InvariantCulture),
                        Count(v?.FileCount), Size(v?.TotalSize), Output.Ago(v?.LastUpdate, run.Now));
                }
            }
            table.Write(run.Out);
        }
    }

    private static ClientCommand Delete(CliConsole console)
    {
        var choice = new VersionChoice();
        var entire = new Option<bool>("--entire-dataset") { Description = "Delete every version of the dataset (with --project and --name)" };
        var force = new Option<bool>("--force") { Description = "Also delete a version that other versions of the dataset start from (they lose its files)" };
        var command = new ClientCommand("delete",
            "Delete a dataset version (or, with --entire-dataset, all of them) and its stored files; refuses a version others start from unless --force", console);
        choice.AddTo(command);
        command.Options.Add(entire);
        command.Options.Add(force);
        command.Validators.Add(result =>
        {
            if (result.GetValue(entire) && result.GetValue(choice.Project) is null)
                result.AddError("--entire-dataset goes with --project and --name");
        });
        command.SetClientAction(async run =>
        {
            var chosen = await choice.ResolveAsync(run);
            var all = await run.Client.Datasets.ListVersionsAsync(chosen.Project, chosen.Name, run.CancellationToken);
            var doomed = run.Get(entire) ? all.Select(v => v.Id).ToHashSet() : [chosen.Id];
            if (!run.Get(force))
            {
                foreach (var other in all.Where(v => !doomed.Contains(v.Id)))
                {
                    var parents = (await run.Client.Datasets.GetAsync(other.Id, run.CancellationToken)).Parents;
                    if (parents.FirstOrDefault(doomed.Contains) is { } parent)
                        throw new CliException(ExitCodes.Failed,
                            $"version {other.Version ?? other.Id} ({other.Id}) starts from {parent}: delete it first, or use --force (nothing was deleted)");
                }
            }
            var deleted = all.Where(v => doomed.Contains(v.Id)).ToList();
            if (deleted.Count == 0)
                deleted = [new DatasetVersionInfo(chosen.Id, chosen.Project, chosen.Name, chosen.Version, chosen.Status, null, null, [], null, null)];
            // The versions live in a hidden project of their own, which goes with the last of them.
            var holder = (await run.Client.Tasks.GetAsync(chosen.Id, run.CancellationToken)).ProjectId;
            foreach (var v in deleted)
                await run.Client.Tasks.DeleteAsync(v.Id, force: true, run.CancellationToken);
            if (holder is not null && deleted.Count >= all.Count)
                await run.Client.CallAsync("projects.delete", new JsonObject { ["project"] = holder, ["force"] = true }, run.CancellationToken);
            if (run.Json)
                run.WriteJson(new JsonArray(deleted.Select(v => (JsonNode)new JsonObject { ["id"] = v.Id, ["version"] = v.Version }).ToArray()));
            else
                foreach (var v in deleted)
                    run.Out.WriteLine($"Deleted {chosen.Project}/{chosen.Name} {v.Version ?? "-"} ({v.Id}); its files are removed by the server's cleanup.");
            return ExitCodes.Ok;
        });
        return command;
    }

    private static ClientCommand Show(CliConsole console)
    {
        var choice = new VersionChoice();
        var files = new Option<bool>("--files") { Description = "Also list every file: path, size, SHA-256 and the version that holds its bytes" };
        var command = new ClientCommand("show", "Show a version: its fields, parents and file count (and files with --files)", console);
        choice.AddTo(command);
        command.Options.Add(files);
        command.SetClientAction(async run =>
        {
            var version = await choice.ResolveAsync(run);
            if (run.Json)
            {
                var json = VersionJson(version);
                if (run.Get(files))
                    json["files"] = new JsonArray(version.Files.Select(f => (JsonNode)FileJson(f)).ToArray());
                run.WriteJson(json);
                return ExitCodes.Ok;
            }
            new Fields()
                .Add("id", version.Id)
                .Add("dataset", $"{version.Project}/{version.Name}")
                .Add("version", version.Version)
                .Add("state", version.IsFinal ? $"final ({version.Status})" : $"open ({version.PendingFiles.Count} file(s) to upload)")
                .Add("parents", version.Parents.Count == 0 ? "-" : string.Join(", ", version.Parents))
                .Add("files", $"{version.Files.Count} ({Output.Bytes(version.TotalSize)})")
                .Add("links", version.Links.Count == 0 ? null : version.Links.Count.ToString(CultureInfo.InvariantCulture))
                .Add("tags", string.Join(", ", version.Tags))
                .Add("description", version.Description)
                .Write(run.Out);
            if (run.Get(files))
            {
                run.Out.WriteLine();
                var table = new Table("PATH", "SIZE", "SHA256", "FROM").AlignRight("SIZE");
                foreach (var f in version.Files)
                    table.Add(f.RelativePath, Output.Bytes(f.Size), f.Hash[..Math.Min(12, f.Hash.Length)], f.SourceVersionId == version.Id ? "this version" : f.SourceVersionId);
                table.Write(run.Out);
            }
            return ExitCodes.Ok;
        });
        return command;
    }

    private static ClientCommand Diff(CliConsole console)
    {
        var from = new Option<string>("--from") { Description = "The older version id", Required = true, HelpName = "id" };
        var to = new Option<string>("--to") { Description = "The newer version id", Required = true, HelpName = "id" };
        var command = new ClientCommand("diff", "List the files added, removed and modified between two versions (by content hash)", console) { from, to };
        command.SetClientAction(async run =>
        {
            var diff = await run.Client.Datasets.DiffAsync(run.Get(from)!, run.Get(to)!, run.CancellationToken);
            if (run.Json)
            {
                run.WriteJson(new JsonObject
                {
                    ["from"] = diff.FromVersionId,
                    ["to"] = diff.ToVersionId,
                    ["added"] = new JsonArray(diff.Added.Select(f => (JsonNode)FileJson(f)).ToArray()),
                    ["removed"] = new JsonArray(diff.Removed.Select(f => (JsonNode)FileJson(f)).ToArray()),
                    ["modified"] = new JsonArray(diff.Modified.Select(c => (JsonNode)new JsonObject { ["before"] = FileJson(c.Before), ["after"] = FileJson(c.After) }).ToArray()),
                    ["unchanged"] = diff.Unchanged,
                });
                return ExitCodes.Ok;
            }
            var table = new Table("CHANGE", "PATH", "SIZE").AlignRight("SIZE");
            foreach (var f in diff.Added)
                table.Add("added", f.RelativePath, Output.Bytes(f.Size));
            foreach (var f in diff.Removed)
                table.Add("removed", f.RelativePath, Output.Bytes(f.Size));
            foreach (var c in diff.Modified)
                table.Add("modified", c.After.RelativePath, $"{Output.Bytes(c.Before.Size)} → {Output.Bytes(c.After.Size)}");
            if (table.Count > 0)
                table.Write(run.Out);
            run.Note($"{diff.Added.Count} added, {diff.Removed.Count} removed, {diff.Modified.Count} modified, {diff.Unchanged} unchanged.");
            return ExitCodes.Ok;
        });
        return command;
    }

    private static string Count(long? n) => n?.ToString("N0", CultureInfo.InvariantCulture) ?? "-";

    private static string Size(long? bytes) => bytes is { } b ? Output.Bytes(b) : "-";

    private static JsonObject VersionJson(DatasetVersion v) => new()
    {
        ["id"] = v.Id,
        ["project"] = v.Project,
        ["name"] = v.Name,
        ["version"] = v.Version,
        ["status"] = v.Status,
        ["final"] = v.IsFinal,
        ["parents"] = Output.Array(v.Parents),
        ["file_count"] = v.Files.Count,
        ["total_size"] = v.TotalSize,
        ["pending"] = v.PendingFiles.Count,
        ["tags"] = Output.Array(v.Tags),
    };

    private static JsonObject VersionInfoJson(DatasetVersionInfo v) => new()
    {
        ["id"] = v.Id,
        ["version"] = v.Version,
        ["status"] = v.Status,
        ["final"] = v.IsFinal,
        ["file_count"] = v.FileCount,
        ["total_size"] = v.TotalSize,
        ["created"] = Output.Time(v.Created),
        ["last_update"] = Output.Time(v.LastUpdate),
        ["tags"] = Output.Array(v.Tags),
    };

    private static JsonObject FileJson(DatasetFile f) => new()
    {
        ["path"] = f.RelativePath,
        ["size"] = f.Size,
        ["hash"] = f.Hash,
        ["version"] = f.SourceVersionId,
    };
}
