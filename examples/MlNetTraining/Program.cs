using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Trainers;
using Slipway.Client.Tracking;

// Trains a linear classifier on a synthetic two-cluster problem, one pass over the data per epoch, and tracks
// the run: hyperparameters, per-epoch scalars, a summary table, and the trained model as the output model.
// Run by an agent (or with CLEARML_TASK_ID), the hyperparameters come from the task, so a clone with an
// edited value trains with that value.
await using var run = await Experiment.StartAsync("examples/ml.net", "binary classifier");
var settings = await run.ConnectAsync(new TrainingSettings());
Console.WriteLine($"training {settings.Epochs} epochs, learning rate {settings.LearningRate}, {settings.Samples} samples");

var ml = new MLContext(settings.Seed);
var data = ml.Data.LoadFromEnumerable(Samples.Generate(settings.Samples, settings.Seed, settings.Noise));
var split = ml.Data.TrainTestSplit(data, testFraction: 0.2, seed: settings.Seed);
var features = ml.Transforms.Concatenate("Features", nameof(Sample.X), nameof(Sample.Y)).Fit(split.TrainSet);
var train = features.Transform(split.TrainSet);
var test = features.Transform(split.TestSet);
var trainer = ml.BinaryClassification.Trainers.AveragedPerceptron(new AveragedPerceptronTrainer.Options
{
    LearningRate = settings.LearningRate,
    L2Regularization = settings.L2Regularization,
    NumberOfIterations = 1,
});

LinearBinaryModelParameters? weights = null;
BinaryPredictionTransformer<LinearBinaryModelParameters>? model = null;
CalibratedBinaryClassificationMetrics? last = null;
for (var epoch = 1; epoch <= settings.Epochs; epoch++)
{
    run.Aborted.ThrowIfCancellationRequested();
    // Each epoch is one more pass, continuing from the previous weights.
    model = weights is null ? trainer.Fit(train) : trainer.Fit(train, weights);
    weights = model.Model;
    var calibrated = ml.BinaryClassification.Calibrators.Platt().Fit(model.Transform(train));
    var trainMetrics = ml.BinaryClassification.Evaluate(calibrated.Transform(model.Transform(train)));
    last = ml.BinaryClassification.Evaluate(calibrated.Transform(model.Transform(test)));
    run.Log.Scalar("accuracy", "train", trainMetrics.Accuracy, epoch);
    run.Log.Scalar("accuracy", "test", last.Accuracy, epoch);
    run.Log.Scalar("log loss", "train", trainMetrics.LogLoss, epoch);
    run.Log.Scalar("log loss", "test", last.LogLoss, epoch);
    run.Log.Scalar("auc", "test", last.AreaUnderRocCurve, epoch);
    Console.WriteLine($"epoch {epoch}: test accuracy {last.Accuracy:0.000}, log loss {last.LogLoss:0.000}");
}

run.Log.SingleValue("test accuracy", last!.Accuracy);
run.Log.Table("confusion matrix", "test", ["", "predicted positive", "predicted negative"],
[
    ["actual positive", last.ConfusionMatrix.Counts[0][0], last.ConfusionMatrix.Counts[0][1]],
    ["actual negative", last.ConfusionMatrix.Counts[1][0], last.ConfusionMatrix.Counts[1][1]],
]);

var file = Path.Combine(Path.GetTempPath(), $"classifier-{run.Id}.zip");
ml.Model.Save(features.Append(model!), data.Schema, file);
var registered = await run.RegisterOutputModelAsync(file, "binary classifier", "ML.NET", settings.Epochs);
File.Delete(file);
Console.WriteLine($"model {registered.Id} registered; results at {run.WebPage}");

internal sealed class TrainingSettings
{
    public int Epochs { get; set; } = 10;
    public float LearningRate { get; set; } = 0.1f;
    public float L2Regularization { get; set; } = 0.001f;
    public int Samples { get; set; } = 2_000;
    public float Noise { get; set; } = 1.2f;
    public int Seed { get; set; } = 7;
}

internal sealed class Sample
{
    public bool Label { get; set; }
    public float X { get; set; }
    public float Y { get; set; }
}

internal static class Samples
{
    /// <summary>Two Gaussian clusters, one per class, overlapping by <paramref name="noise"/>.</summary>
    public static IEnumerable<Sample> Generate(int count, int seed, float noise)
    {
        var random = new Random(seed);
        float Gaussian() => (float)(Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble()));
        for (var i = 0; i < count; i++)
        {
            var positive = i % 2 == 0;
            var center = positive ? 1f : -1f;
            yield return new Sample { Label = positive, X = center + (noise * Gaussian()), Y = center + (noise * Gaussian()) };
        }
    }
}
