using System.Text.Json;
using System.Text.Json.Nodes;
using Slipway.Server.Core;

namespace Slipway.Server.Api;

/// <summary>Writes the ClearML response envelope: <c>{meta:{…}, data:{…}}</c>, with HTTP status = result_code.</summary>
public static class Envelope
{
    public const string ActualVersion = ApiVersion.Actual;

    public static async Task WriteAsync(HttpResponse response, string endpoint, string? requestedVersion, string? trx,
        int code, int subcode, string message, JsonNode? data)
    {
        response.StatusCode = code;
        response.ContentType = "application/json";
        var id = Guid.NewGuid().ToString("N");
        await using (var writer = new Utf8JsonWriter(response.BodyWriter, new JsonWriterOptions { SkipValidation = true }))
        {
            writer.WriteStartObject();
            writer.WriteStartObject("meta");
            writer.WriteString("id", id);
            writer.WriteString("trx", trx ?? id);
            writer.WriteStartObject("endpoint");
            writer.WriteString("name", endpoint);
            writer.WriteString("requested_version", requestedVersion ?? ActualVersion);
            writer.WriteString("actual_version", ActualVersion);
            writer.WriteEndObject();
            writer.WriteNumber("result_code", code);
            writer.WriteNumber("result_subcode", subcode);
            writer.WriteString("result_msg", message);
            writer.WriteNull("error_stack");
            writer.WriteStartObject("error_data");
            writer.WriteEndObject();
            writer.WriteEndObject();
            writer.WritePropertyName("data");
            if (data is null || code != 200)
            {
                writer.WriteStartObject();
                writer.WriteEndObject();
            }
            else
            {
                data.WriteTo(writer);
            }
            writer.WriteEndObject();
        }
        await response.BodyWriter.FlushAsync();
    }
}
