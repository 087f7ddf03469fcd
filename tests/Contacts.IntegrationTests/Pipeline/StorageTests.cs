using Contacts.IntegrationTests.Infrastructure;
using Contacts.Messaging.EventStore;
using Contacts.Messaging.Outbox;
using Contacts.Messaging.Persistence;
using Contacts.Persistence;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace Contacts.IntegrationTests;

public sealed record Opened(string Name);
public sealed record Renamed(string Name);

/// <summary>The stream type the tests' streams are recorded as (identity's are Customer).</summary>
public sealed class Account;

/// <summary>The event store, inbox and migrations against a real PostgreSQL; each test gets a fresh database.</summary>
[Collection(ServersCollection.Name)]
[Trait("Category", "Integration")]
public sealed class StorageTests(ServersFixture servers) : IAsyncLifetime
{
    private static readonly SchemaDefinition Schema = new("storage", SharedMigrations.All);
    private MigratedDatabase _store = null!;
    private NpgsqlDataSource _dataSource = null!;
    private Database _database = null!;

    public async Task InitializeAsync()
    {
        _store = await MigratedDatabase.Create(servers, "storage", Schema.Schema, Schema.Migrations, [typeof(Opened), typeof(Renamed)], maxPoolSize: 100);
        (_dataSource, _database) = (_store.DataSource, _store.Database);
    }

    public async Task DisposeAsync() => await _store.DisposeAsync();

    private Task Start(Guid id, params object[] events) =>
        _database.InTransaction(s => { s.Events.StartStreamAtCommit<Account>(id, "t", events); return Task.CompletedTask; }, default);

    private Task Append(Guid id, long readVersion, params object[] events) =>
        _database.InTransaction(s => { s.Events.AppendAtCommit(id, "t", readVersion, events); return Task.CompletedTask; }, default);

    private Task<IReadOnlyList<JasperFx.Events.IEvent>> Fetch(Guid id) => _database.InTransaction(s => s.Events.FetchStream(id, "t"), default);

    [Fact]
    public async Task A_started_stream_and_an_append_are_stored_in_order_each_event_with_its_version_data_tenant_and_cause()
    {
        var (id, messageId) = (Guid.NewGuid(), Guid.NewGuid());
        await Start(id, new Opened("a"), new Renamed("b"));
        Assert.True(await _database.HandleOnce("test", messageId, s =>
        {
            s.Events.AppendAtCommit(id, "t", 2, [new Renamed("c")]);
            return Task.CompletedTask;
        }, default));

        var events = await Fetch(id);
        Assert.Equal([(1L, (object)new Opened("a")), (2L, new Renamed("b")), (3L, new Renamed("c"))], events.Select(e => (e.Version, e.Data)));
        Assert.All(events, e => Assert.Equal((id, "t"), (e.StreamId, e.TenantId)));
        Assert.Equal([null, null, messageId.ToString()], events.Select(e => e.CausationId));
        await using var stream = _dataSource.CreateCommand("select version::text || ' ' || type || ' ' || tenant_id from mt_streams where id = @id");
        stream.Parameters.AddWithValue("id", id);
        Assert.Equal(["3 account t"], await ReadAll(stream));
        Assert.Empty(await Fetch(Guid.NewGuid()));
        Assert.Empty(await _database.InTransaction(s => s.Events.FetchStream(id, "another tenant"), default));
    }

    [Fact]
    public async Task An_append_at_a_stale_version_is_refused_and_leaves_nothing_behind()
    {
        var id = Guid.NewGuid();
        await Start(id, new Opened("a"));
        await Append(id, 1, new Renamed("b"));

        var conflict = await Assert.ThrowsAsync<ConcurrencyException>(() =>
            _database.InTransaction(s =>
            {
                s.Publish(new Opened("never published"), Guid.NewGuid());
                s.Events.AppendAtCommit(id, "t", 1, [new Renamed("stale")]);
                return Task.CompletedTask;
            }, default));
        Assert.Equal(id, conflict.StreamId);
        Assert.Contains("expected at version 1 but has moved", conflict.Message);
        Assert.Equal(2, await Count("select count(*) from mt_events where stream_id = @id", id));
        Assert.Equal(0, await Count("select count(*) from outbox where body->>'name' = 'never published'", id));
    }

    [Fact]
    public async Task Starting_a_stream_twice_is_a_conflict()
    {
        var id = Guid.NewGuid();
        await Start(id, new Opened("a"));
        var conflict = await Assert.ThrowsAsync<ConcurrencyException>(() => Start(id, new Opened("b")));
        Assert.Equal(id, conflict.StreamId);
        Assert.Equal(1, await Count("select count(*) from mt_events where stream_id = @id", id));
    }

    [Fact]
    public async Task Of_many_concurrent_appends_at_one_version_exactly_one_wins()
    {
        var id = Guid.NewGuid();
        await Start(id, new Opened("a"));

        var attempts = await Task.WhenAll(Enumerable.Range(0, 8).Select(async i =>
        {
            try
            {
                await Append(id, 1, new Renamed($"writer {i}"));
                return true;
            }
            catch (ConcurrencyException)
            {
                return false;
            }
        }));
        Assert.Equal(1, attempts.Count(won => won));
        Assert.Equal(2, await Count("select count(*) from mt_events where stream_id = @id", id));
    }

    [Fact]
    public async Task Appends_at_commit_of_one_transaction_chain_on_each_other_and_are_written_together()
    {
        var (started, existing) = (Guid.NewGuid(), Guid.NewGuid());
        await Start(existing, new Opened("x"));

        await _database.InTransaction(s =>
        {
            s.Events.StartStreamAtCommit<Account>(started, "t", [new Opened("a")]);
            s.Events.AppendAtCommit(existing, "t", 1, [new Renamed("y")]);
            s.Events.AppendAtCommit(started, "t", null, [new Renamed("b"), new Renamed("c")]); // not in the database yet: built on the start
            s.Events.AppendAtCommit(existing, "t", 1, [new Renamed("z")]); // read at 1 again: follows this transaction's own append
            return Task.CompletedTask;
        }, default);

        var events = await Fetch(started);
        Assert.Equal([(1L, (object)new Opened("a")), (2L, new Renamed("b")), (3L, new Renamed("c"))], events.Select(e => (e.Version, e.Data)));
        events = await Fetch(existing);
        Assert.Equal([(1L, (object)new Opened("x")), (2L, new Renamed("y")), (3L, new Renamed("z"))], events.Select(e => (e.Version, e.Data)));
        await using var stream = _dataSource.CreateCommand("select version::text || ' ' || type || ' ' || tenant_id from mt_streams where id = any(@ids) order by version");
        stream.Parameters.AddWithValue("ids", new[] { started, existing });
        Assert.Equal(["3 account t", "3 account t"], await ReadAll(stream));
    }

    [Fact]
    public async Task An_append_at_commit_on_a_stream_that_moved_meanwhile_rolls_back_the_whole_transaction()
    {
        var (moved, other) = (Guid.NewGuid(), Guid.NewGuid());
        await Start(moved, new Opened("a"));

        var conflict = await Assert.ThrowsAsync<ConcurrencyException>(() => _database.InTransaction(async s =>
        {
            s.Events.StartStreamAtCommit<Account>(other, "t", [new Opened("b")]);
            s.Events.AppendAtCommit(moved, "t", 1, [new Renamed("late")]);
            s.Publish(new Opened("never published"), Guid.NewGuid());
            // Another writer moves the stream after this transaction read it at 1, before it commits.
            await Append(moved, 1, new Renamed("first"));
        }, default));
        Assert.Equal(moved, conflict.StreamId);
        Assert.Equal(2, await Count("select count(*) from mt_events where stream_id = @id", moved));
        Assert.Equal(0, await Count("select count(*) from mt_streams where id = @id", other));
        Assert.Equal(0, await Count("select count(*) from outbox where body->>'name' = 'never published'", moved));

        // Within a transaction, an append made on another read of the stream than the first one is refused at once.
        await Assert.ThrowsAsync<ConcurrencyException>(() => _database.InTransaction(s =>
        {
            s.Events.AppendAtCommit(moved, "t", 2, [new Renamed("one")]);
            s.Events.AppendAtCommit(moved, "t", 3, [new Renamed("two")]);
            return Task.CompletedTask;
        }, default));
        Assert.Equal(2, await Count("select count(*) from mt_events where stream_id = @id", moved));

        // A stream that went (its customer erased) after the transaction read it is not started again by the append: not
        // when the erasure committed before the append, nor when it commits while the append waits for the stream's row.
        await Assert.ThrowsAsync<ConcurrencyException>(() => _database.InTransaction(async s =>
        {
            s.Events.AppendAtCommit(moved, "t", 2, [new Renamed("after erasure")]);
            await _database.InTransaction(w => w.Execute("delete from mt_events where stream_id = @moved; delete from mt_streams where id = @moved",
                new { moved }, default), default);
        }, default));
        Assert.Equal(0, await Count("select count(*) from mt_streams where id = @id", moved));

        var racing = Guid.NewGuid();
        await Start(racing, new Opened("a"));
        await using var erasure = await _dataSource.OpenConnectionAsync();
        await using var erasing = await erasure.BeginTransactionAsync();
        await using (var delete = new NpgsqlCommand("delete from mt_events where stream_id = @id; delete from mt_streams where id = @id", erasure, erasing))
        {
            delete.Parameters.AddWithValue("id", racing);
            await delete.ExecuteNonQueryAsync();
        }
        var append = Append(racing, 1, new Renamed("while erased"));
        await TestPipeline.Eventually(async () => await Count("""
            select count(*) from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock' and @id::text <> ''
            """, racing) > 0, TimeSpan.FromSeconds(10), () => Task.FromResult("the append never waited for the erasure"));
        await erasing.CommitAsync();
        var gone = await Assert.ThrowsAsync<ConcurrencyException>(() => append);
        Assert.True(gone.Message.Contains("expected at version 1 but is gone") || gone.Message.Contains("but was 0"), gone.Message);
        Assert.Equal(0, await Count("select count(*) from mt_streams where id = @id", racing));
    }

    [Fact]
    public async Task Streams_stored_before_Marten_move_into_it_with_their_events_when_the_schema_is_migrated()
    {
        // Given a schema migrated up to the step before Marten, with a stream in the hand-written store's tables
        var before = new SchemaDefinition("upgraded", [.. SharedMigrations.All.TakeWhile(m => m.Id != "0005_event_store_on_marten")]);
        await using var dataSource = new NpgsqlDataSourceBuilder(
            new NpgsqlConnectionStringBuilder(_dataSource.ConnectionString) { SearchPath = "upgraded" }.ConnectionString).Build();
        await new SchemaMigrator(dataSource, before, new MigrationState(), NullLogger<SchemaMigrator>.Instance).MigrateAsync(CancellationToken.None);
        var (id, first, second) = (Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid());
        await using (var seed = dataSource.CreateCommand("""
            insert into streams (id, type, version, tenant_id) values (@id, 'Account', 2, 't');
            insert into events (id, stream_id, version, type, data, tenant_id, correlation_id, causation_id) values
                (@first, @id, 1, 'Opened', '{"name":"a"}', 't', 'trace', 'cause'),
                (@second, @id, 2, 'Renamed', '{"name":"b"}', 't', null, null);
            """))
        {
            seed.Parameters.AddWithValue("id", id);
            seed.Parameters.AddWithValue("first", first);
            seed.Parameters.AddWithValue("second", second);
            await seed.ExecuteNonQueryAsync();
        }

        // When the service starts on Marten: its tables are made, then the migrations run
        var state = new MigrationState();
        var store = MartenEvents.Store(dataSource, "upgraded", [typeof(Opened), typeof(Renamed)]);
        await new SchemaMigrator(dataSource, new SchemaDefinition("upgraded", SharedMigrations.All), state, NullLogger<SchemaMigrator>.Instance,
            [new MartenSchema(store)]).MigrateAsync(CancellationToken.None);
        state.Complete();
        var database = new Database(dataSource, state, new OutboxSignal(), store, faults: null);

        // Then the stream reads back from Marten as it was, appends follow it, and the old tables are gone
        var events = await database.InTransaction(s => s.Events.FetchStream(id, "t"), default);
        Assert.Equal([(first, 1L, (object)new Opened("a"), "cause", "trace"), (second, 2L, new Renamed("b"), null, null)],
            events.Select(e => (e.Id, e.Version, e.Data, e.CausationId, e.CorrelationId)));
        await database.InTransaction(s => { s.Events.AppendAtCommit(id, "t", 2, [new Renamed("c")]); return Task.CompletedTask; }, default);
        Assert.Equal(3, (await database.InTransaction(s => s.Events.FetchStream(id, "t"), default)).Count);
        await using var tables = dataSource.CreateCommand("select count(*) from pg_tables where schemaname = 'upgraded' and tablename in ('events', 'streams', 'event_progression')");
        Assert.Equal(0L, await tables.ExecuteScalarAsync());
    }

    [Fact]
    public async Task Committed_rows_go_to_the_relay_from_memory_under_a_lease_and_to_the_poll_when_the_handoff_is_full()
    {
        // Given a handoff that holds at most two rows, its lease far longer than the test
        var handoff = new OutboxHandoff(Microsoft.Extensions.Options.Options.Create(
            new OutboxOptions { HandoffLease = TimeSpan.FromMinutes(5), MaxHandedRows = 2 }));
        await using var store = await MigratedDatabase.Create(servers, "storage-handoff", Schema.Schema, Schema.Migrations,
            [typeof(Opened), typeof(Renamed)], handoff: handoff);
        var ids = Enumerable.Range(0, 5).Select(_ => Guid.NewGuid()).ToArray();
        async Task<long> Rows(string condition, Guid[] of)
        {
            await using var cmd = store.DataSource.CreateCommand($"select count(*) from outbox where id = any(@ids) and {condition}");
            cmd.Parameters.AddWithValue("ids", of);
            return (long)(await cmd.ExecuteScalarAsync())!;
        }

        // When a transaction publishes two messages and commits
        await store.Database.InTransaction(s =>
        {
            s.Publish(new Renamed("a"), ids[0]);
            s.Publish(new Renamed("b"), ids[1]);
            return Task.CompletedTask;
        }, default);

        // Then the relay gets them as the objects they were, in order, and the rows wait out the lease before a poll may claim them
        var handed = handoff.Take(10);
        Assert.Equal(ids[..2], handed.Select(h => h.Row.Id));
        Assert.Equal(["a", "b"], handed.Select(h => ((Renamed)h.Row.Message).Name));
        Assert.Equal(2, await Rows("sent_at is null and next_attempt_at > now() + interval '4 minutes'", ids[..2]));
        Assert.False(handoff.PollAsked());

        // When a transaction that published rolls back, nothing is handed over or stored
        await Assert.ThrowsAsync<InvalidOperationException>(() => store.Database.InTransaction(s =>
        {
            s.Publish(new Renamed("never published"), ids[2]);
            throw new InvalidOperationException("rolled back");
        }, default));
        Assert.Empty(handoff.Take(10));
        Assert.Equal(0, await Rows("true", [ids[2]]));

        // When two rows already wait in memory (the handoff is full), the next commit's row is due at once for the poll,
        // which the commit asks for, and stays out of memory
        await store.Database.InTransaction(s => { s.Publish(new Renamed("c"), ids[3]); s.Publish(new Renamed("d"), ids[4]); return Task.CompletedTask; }, default);
        await store.Database.InTransaction(s => { s.Publish(new Renamed("e"), ids[2]); return Task.CompletedTask; }, default);
        Assert.True(handoff.PollAsked());
        Assert.Equal(1, await Rows("sent_at is null and next_attempt_at <= now()", [ids[2]]));
        Assert.Equal(ids[3..], handoff.Take(10).Select(h => h.Row.Id));
    }

    [Fact]
    public async Task The_inbox_lets_a_message_take_effect_once_and_forgets_a_failed_attempt()
    {
        var messageId = Guid.NewGuid();
        var effects = 0;
        await Assert.ThrowsAsync<InvalidOperationException>(() =>
            _database.HandleOnce("test", messageId, _ => throw new InvalidOperationException("first attempt fails"), default));
        Assert.True(await _database.HandleOnce("test", messageId, _ => { effects++; return Task.CompletedTask; }, default));
        Assert.False(await _database.HandleOnce("test", messageId, _ => { effects++; return Task.CompletedTask; }, default));
        Assert.True(await _database.HandleOnce("another consumer", messageId, _ => { effects++; return Task.CompletedTask; }, default));
        Assert.Equal(2, effects);
    }

    [Fact]
    public async Task Messages_waiting_together_share_transactions_and_each_takes_effect_once()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var transactions = new System.Collections.Concurrent.ConcurrentBag<long>();
        var ids = Enumerable.Range(0, 40).Select(_ => Guid.NewGuid()).ToList();
        async Task Work(Session s, Guid id, bool first)
        {
            if (first)
            {
                await gate.Task; // the others queue up behind the first meanwhile
            }
            await using var cmd = s.Command("select txid_current()");
            transactions.Add((long)(await cmd.ExecuteScalarAsync())!);
            s.Events.StartStreamAtCommit<Account>(id, "t", [new Opened(id.ToString())]);
        }

        var first = _database.HandleOnceTogether("test", ids[0], s => Work(s, ids[0], true), default);
        var rest = ids.Skip(1).Select(id => _database.HandleOnceTogether("test", id, s => Work(s, id, false), default)).ToList();
        // The same message twice while it waits: one copy takes effect.
        var copy = _database.HandleOnceTogether("test", ids[^1], s => Work(s, ids[^1], false), default);
        gate.SetResult();
        var handled = await Task.WhenAll([first, .. rest, copy]);

        Assert.Equal(40, handled.Count(h => h));
        Assert.Equal(40, await Count("select count(*) from mt_events where stream_id = any(@id)", ids.ToArray()));
        Assert.True(transactions.Distinct().Count() < 20, $"{transactions.Distinct().Count()} transactions for 40 messages");
        Assert.False(await _database.HandleOnceTogether("test", ids[3], s => Work(s, ids[3], false), default));
        Assert.False(await _database.HandleOnce("test", ids[4], s => Work(s, ids[4], false), default));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Work_waiting_together_shares_transactions_each_gets_its_own_result_and_a_failure_only_its_own_error(bool withPoison)
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var transactions = new System.Collections.Concurrent.ConcurrentBag<long>();
        var ids = Enumerable.Range(0, 30).Select(_ => Guid.NewGuid()).ToList();
        Guid? poison = withPoison ? ids[17] : null;
        async Task<Guid> Work(Session s, Guid id)
        {
            if (id == ids[0])
            {
                await gate.Task; // the others queue up behind the first meanwhile
            }
            await using var cmd = s.Command("select txid_current()");
            transactions.Add((long)(await cmd.ExecuteScalarAsync())!);
            s.Events.StartStreamAtCommit<Account>(id, "t", [new Opened(id.ToString())]);
            s.Publish(new Opened(id.ToString()), id);
            return id == poison ? throw new InvalidOperationException("this one is poison") : id;
        }

        var waiting = ids.Select(id => (Id: id, Task: _database.InTransactionTogether("test", s => Work(s, id), default))).ToList();
        gate.SetResult();

        if (poison is { } p)
        {
            var error = await Assert.ThrowsAsync<InvalidOperationException>(() => waiting.Single(w => w.Id == p).Task);
            Assert.Equal("this one is poison", error.Message);
            Assert.Equal(0, await Count("select count(*) from outbox where id = @id", p));
        }
        foreach (var (id, task) in waiting.Where(w => w.Id != poison))
        {
            Assert.Equal(id, await task);
        }
        var stored = withPoison ? 29 : 30;
        Assert.Equal(stored, await Count("select count(*) from mt_events where stream_id = any(@id)", ids.ToArray()));
        Assert.Equal(stored, await Count("select count(*) from outbox where id = any(@id)", ids.ToArray()));
        if (!withPoison)
        {
            Assert.True(transactions.Distinct().Count() < 10, $"{transactions.Distinct().Count()} transactions for 30 pieces of work");
        }
    }

    [Fact]
    public async Task A_message_that_fails_in_a_shared_transaction_gets_its_own_error_and_the_others_still_take_effect()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var ids = Enumerable.Range(0, 10).Select(_ => Guid.NewGuid()).ToList();
        var poison = ids[5];
        async Task Work(Session s, Guid id)
        {
            if (id == ids[0])
            {
                await gate.Task;
            }
            s.Events.StartStreamAtCommit<Account>(id, "t", [new Opened(id.ToString())]);
            if (id == poison)
            {
                throw new InvalidOperationException("this one is poison");
            }
        }

        var waiting = ids.Select(id => (Id: id, Task: _database.HandleOnceTogether("test", id, s => Work(s, id), default))).ToList();
        gate.SetResult();

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => waiting.Single(w => w.Id == poison).Task);
        Assert.Equal("this one is poison", error.Message);
        foreach (var (_, task) in waiting.Where(w => w.Id != poison))
        {
            Assert.True(await task);
        }
        Assert.Equal(9, await Count("select count(*) from mt_events where stream_id = any(@id)", ids.ToArray()));
        Assert.Equal(0, await Count("select count(*) from inbox where message_id = @id", poison));
    }

    [Fact]
    public async Task Migrations_started_together_apply_each_step_once()
    {
        var fresh = new SchemaDefinition("concurrent", SharedMigrations.All);
        await using var dataSource = new NpgsqlDataSourceBuilder(
            new NpgsqlConnectionStringBuilder(_dataSource.ConnectionString) { SearchPath = "concurrent" }.ConnectionString).Build();
        await Task.WhenAll(Enumerable.Range(0, 4).Select(_ =>
            new SchemaMigrator(dataSource, fresh, new MigrationState(), NullLogger<SchemaMigrator>.Instance).MigrateAsync(CancellationToken.None)));
        await new SchemaMigrator(dataSource, fresh, new MigrationState(), NullLogger<SchemaMigrator>.Instance).MigrateAsync(CancellationToken.None);

        await using var cmd = dataSource.CreateCommand("select count(*) from concurrent.schema_migrations");
        Assert.Equal((long)SharedMigrations.All.Length, await cmd.ExecuteScalarAsync());
    }

    private static readonly StatisticsOptions Settings = new(); // the keeper's defaults, its statistics target included

    [Fact]
    public async Task A_table_that_outgrew_its_statistics_is_analysed_so_a_cached_plan_made_while_it_was_small_is_made_again()
    {
        var keeper = new StatisticsKeeper(_dataSource, Schema, new MigrationState(),
            Microsoft.Extensions.Options.Options.Create(Settings), NullLogger<StatisticsKeeper>.Instance);
        await using var connection = await _dataSource.OpenConnectionAsync();
        async Task<string> Run(string sql)
        {
            await using var cmd = new NpgsqlCommand(sql, connection);
            return string.Join("\n", await ReadAll(cmd));
        }
        // Given a young table, analysed while small, and a statement whose generic plan was made then (the server's own
        // autovacuum is off for it: when it analysed the table first, the keeper rightly found nothing stale and the test failed)
        await Run("""
            create table growing (id int primary key, merged_into int) with (autovacuum_enabled = false);
            create index growing_merged on growing (merged_into) where merged_into is not null;
            insert into growing select g, case when g % 3 = 0 then g / 3 end from generate_series(1, 20) g;
            analyze growing;
            set plan_cache_mode = force_generic_plan;
            prepare absorbed(int) as select id from growing where merged_into = $1;
            """);
        Assert.Contains("Seq Scan", await Run("explain execute absorbed(1)"));
        Assert.Empty(await keeper.AnalyseStale(500, default, Settings.Target));

        // When it grows 250-fold and the keeper checks (the server counts changes within a second or so)
        await Run("insert into growing select g, case when g % 3 = 0 then g / 3 end from generate_series(21, 5000) g");
        IReadOnlyList<string> analysed = [];
        await TestPipeline.Eventually(async () => (analysed = await keeper.AnalyseStale(500, default, Settings.Target)).Contains("growing"),
            TimeSpan.FromSeconds(20), () => Run("select n_mod_since_analyze from pg_stat_user_tables where relname = 'growing'"));

        // Then it alone was analysed, once, and the same prepared statement now reads the index
        Assert.Equal(["growing"], analysed);
        Assert.Equal("5000", await Run("select reltuples::bigint from pg_class where relname = 'growing' and relnamespace = 'storage'::regnamespace"));
        Assert.Contains("Index Scan using growing_merged", await Run("explain execute absorbed(1)"));
        Assert.DoesNotContain("growing", await keeper.AnalyseStale(500, default, Settings.Target));
    }

    private static async Task<List<string>> ReadAll(NpgsqlCommand cmd)
    {
        var rows = new List<string>();
        await using var reader = await cmd.ExecuteReaderAsync();
        do
        {
            while (await reader.ReadAsync())
            {
                rows.Add(Convert.ToString(reader.GetValue(0), System.Globalization.CultureInfo.InvariantCulture)!);
            }
        }
        while (await reader.NextResultAsync());
        return rows;
    }

    private async Task<long> Count(string sql, object id)
    {
        await using var cmd = _dataSource.CreateCommand(sql);
        cmd.Parameters.AddWithValue("id", id);
        return (long)(await cmd.ExecuteScalarAsync())!;
    }
}
