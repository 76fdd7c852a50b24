using Slipway.Server.Api;

namespace Slipway.Server.Tests.Api;

public sealed class BodyBudgetTests
{
    private const long Mb = 1024 * 1024;

    [Fact]
    public async Task A_large_body_waits_for_room_and_gets_it_when_another_is_done()
    {
        var budget = new BodyBudget(80 * Mb);
        var first = await budget.AcquireAsync(60 * Mb, CancellationToken.None);
        var second = budget.AcquireAsync(60 * Mb, CancellationToken.None).AsTask();
        Assert.False(second.IsCompleted);
        // Small bodies pass beside a waiting large one.
        using (await budget.AcquireAsync(Mb / 2, CancellationToken.None))
            Assert.Equal(20 * Mb, budget.Free);
        first.Dispose();
        using (await second.WaitAsync(TimeSpan.FromSeconds(30)))
            Assert.Equal(20 * Mb, budget.Free);
        Assert.Equal(80 * Mb, budget.Free);
    }

    [Fact]
    public async Task A_body_larger_than_the_capacity_still_gets_its_turn()
    {
        var budget = new BodyBudget(10 * Mb);
        using (await budget.AcquireAsync(50 * Mb, CancellationToken.None))
            Assert.Equal(0, budget.Free);
        Assert.Equal(10 * Mb, budget.Free);
    }

    [Fact]
    public async Task A_caller_that_gives_up_takes_nothing()
    {
        var budget = new BodyBudget(10 * Mb);
        var held = await budget.AcquireAsync(8 * Mb, CancellationToken.None);
        using var cancel = new CancellationTokenSource();
        var waiting = budget.AcquireAsync(8 * Mb, cancel.Token).AsTask();
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);
        held.Dispose();
        Assert.Equal(10 * Mb, budget.Free);
        using (await budget.AcquireAsync(8 * Mb, CancellationToken.None))
            Assert.Equal(2 * Mb, budget.Free);
    }
}
