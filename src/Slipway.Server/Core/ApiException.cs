namespace Slipway.Server.Core;

/// <summary>An error that the API answers with its envelope: HTTP status = <see cref="Code"/>.</summary>
public sealed class ApiException(int code, int subcode, string message) : Exception(message)
{
    public int Code { get; } = code;
    public int Subcode { get; } = subcode;

    public static ApiException MissingField(string field) => new(400, 11, $"Validation error (missing required field: {field})");
    public static ApiException Validation(string message) => new(400, 12, $"Validation error ({message})");
    public static ApiException InvalidId(string message) => new(400, 10, message);
    public static ApiException InvalidTaskId(string id) => new(400, 101, $"Invalid task id (id={id})");
    public static ApiException InvalidTaskStatus(string message) => new(400, 110, $"Invalid task status ({message})");
    public static ApiException StatusRace(string id) => new(400, 121, $"Failed changing task status, probably someone changed it before you (id={id})");
    public static ApiException InvalidModelId(string id) => new(400, 201, $"Invalid model id (id={id})");
    public static ApiException InvalidProjectId(string id) => new(400, 401, $"Invalid project id (id={id})");
    public static ApiException ProjectHasTasks(string id) => new(400, 402, $"Project has associated tasks (id={id})");
    public static ApiException InvalidQueueId(string id) => new(400, 701, $"Invalid queue id (id={id})");
    public static ApiException QueueNotEmpty(string id) => new(400, 702, $"Queue is not empty (id={id})");
    public static ApiException NoDefaultQueue() => new(400, 707, "No default queue was found");
    public static ApiException NotUnique(string message) => new(400, 801, $"Value combination already exists (unique field already contains this value) ({message})");
    public static ApiException NoCredentials() => new(401, 20, "Unauthorized (missing credentials)");
    public static ApiException BadCredentials() => new(401, 21, "Unauthorized (bad credentials)");
    public static ApiException InvalidCredentials() => new(401, 22, "Unauthorized (invalid credentials)");
    public static ApiException InvalidToken(string why) => new(401, 30, $"Invalid token ({why})");
    public static ApiException EndpointNotFound(string name) => new(404, 0, $"Unable to find endpoint for name {name} and version");
}
