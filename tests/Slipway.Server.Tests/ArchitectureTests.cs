using System.Reflection;
using NetArchTest.Rules;

namespace Slipway.Server.Tests;

/// <summary>
/// The server's folders form one-way layers (docs/architecture.md): a folder may use the layers below it and never one above,
/// and no two folders use each other. The checks read the compiled assembly, so they see every type a folder really uses.
/// </summary>
public sealed class ArchitectureTests
{
    private const string Root = "Slipway.Server";
    private static readonly Assembly Server = typeof(SlipwayServer).Assembly;

    /// <summary>The root namespace's types that wire everything together; its other types are settings every layer may read.</summary>
    private static readonly HashSet<string> CompositionRoot = [typeof(SlipwayServer).FullName!, typeof(AutoscalerMetrics).FullName!, typeof(MetricsEndpoint).FullName!, typeof(FirstStart).FullName!];

    /// <summary>Bottom first. Members are namespaces (with their sub-namespaces) or, in the root namespace, single types.</summary>
    private static readonly string[][] Layers =
    [
        [$"{Root}.Core", $"{Root}.Blobs"],
        [$"{Root}.Storage"],
        [.. RootTypes().Where(t => !CompositionRoot.Contains(t))],
        [$"{Root}.Domain"],
        [$"{Root}.Auth"],
        [$"{Root}.Api"],
        [$"{Root}.Files"],
        [$"{Root}.Web"],
        [.. CompositionRoot],
    ];

    private static readonly string[] TopFolders = ["Core", "Blobs", "Storage", "Domain", "Auth", "Api", "Files", "Web"];

    public static TheoryData<int> LayerIndexes() => [.. Enumerable.Range(0, Layers.Length)];

    [Theory]
    [MemberData(nameof(LayerIndexes))]
    public void No_layer_uses_one_above_it(int layer)
    {
        var above = Layers.Skip(layer + 1).SelectMany(l => l).ToArray();
        var backArrows = Layers[layer].SelectMany(member => UsersOfAny(member, above)).ToList();
        Assert.True(backArrows.Count == 0, $"layer {layer} ({string.Join(", ", Layers[layer])}) uses a layer above it in: {string.Join(", ", backArrows)}");
    }

    [Fact]
    public void No_two_server_folders_use_each_other()
    {
        var folders = TopFolders.Select(f => $"{Root}.{f}").ToList();
        var domainParts = Server.GetTypes().Select(t => t.Namespace).OfType<string>()
            .Where(ns => ns.StartsWith($"{Root}.Domain.", StringComparison.Ordinal))
            .Select(ns => string.Join('.', ns.Split('.').Take(4))).Distinct().Order(StringComparer.Ordinal).ToList();
        Assert.NotEmpty(domainParts);
        var cycles = new List<string>();
        foreach (var group in new[] { folders, domainParts })
        {
            for (var i = 0; i < group.Count; i++)
            {
                for (var j = i + 1; j < group.Count; j++)
                {
                    if (UsersOfAny(group[i], [group[j]]).Any() && UsersOfAny(group[j], [group[i]]).Any())
                        cycles.Add($"{group[i]} ⇄ {group[j]}");
                }
            }
        }
        Assert.True(cycles.Count == 0, "folders that use each other: " + string.Join("; ", cycles));
    }

    /// <summary>The types of <paramref name="member"/> that depend on any of <paramref name="targets"/>.</summary>
    private static IEnumerable<string> UsersOfAny(string member, string[] targets)
    {
        if (targets.Length == 0)
            return [];
        var isType = RootTypes().Contains(member);
        var subjects = isType
            ? Types.InAssembly(Server).That().HaveName(member[(Root.Length + 1)..]).And().ResideInNamespace(Root)
            : Types.InAssembly(Server).That().ResideInNamespace(member);
        var result = subjects.ShouldNot().HaveDependencyOnAny(targets).GetResult();
        // HaveName and ResideInNamespace match by prefix; keep only the types that really are the member's.
        return (result.FailingTypeNames ?? []).Where(name => isType
            ? name == member || name.StartsWith(member + "/", StringComparison.Ordinal) || name.StartsWith(member + "+", StringComparison.Ordinal)
            : name.StartsWith(member + ".", StringComparison.Ordinal));
    }

    private static IEnumerable<string> RootTypes() =>
        Server.GetTypes().Where(t => t.Namespace == Root && !t.IsNested && !t.Name.StartsWith('<')).Select(t => t.FullName!);
}
