namespace Slipway.Wire;

/// <summary>Field names of a model document beyond <see cref="DocumentFields"/>.</summary>
internal static class ModelFields
{
    public const string Uri = "uri";
    public const string Framework = "framework";
    public const string Task = "task";
    public const string Parent = "parent";
    public const string Ready = "ready";
    public const string Design = "design";
    public const string Labels = "labels";

    /// <summary>The iteration the model was saved at. Requests name it <see cref="Iteration"/>; the document keeps it here.</summary>
    public const string LastIteration = "last_iteration";

    /// <summary>The request field (models.edit, models.update) that sets <see cref="LastIteration"/>.</summary>
    public const string Iteration = "iteration";
}
