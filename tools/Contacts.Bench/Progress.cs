namespace Contacts.Bench;

/// <summary>A one-line progress bar on stderr, redrawn twice a second, so stdout keeps only the results.</summary>
public sealed class Progress
{
    private readonly Lock _gate = new();
    private int _notes;

    public IDisposable Start(string title, Func<string> status) => new Ticker(this, title, status);

    /// <summary>A warning worth seeing (the first few only, so a failing gateway does not flood the screen).</summary>
    public void Note(string message)
    {
        if (Interlocked.Increment(ref _notes) <= 5)
        {
            lock (_gate)
            {
                Console.Error.WriteLine($"\n  ! {message}");
            }
        }
    }

    public static string Bar(double fraction, int width = 30)
    {
        var filled = (int)Math.Round(Math.Clamp(fraction, 0, 1) * width);
        return "[" + new string('#', filled) + new string('.', width - filled) + "]";
    }

    private sealed class Ticker : IDisposable
    {
        private readonly Progress _owner;
        private readonly string _title;
        private readonly Func<string> _status;
        private readonly Timer _timer;

        public Ticker(Progress owner, string title, Func<string> status)
        {
            (_owner, _title, _status) = (owner, title, status);
            _timer = new Timer(_ => Draw(), null, TimeSpan.Zero, TimeSpan.FromMilliseconds(500));
        }

        private void Draw(bool last = false)
        {
            string line;
            try
            {
                line = $"  {_title}: {_status()}";
            }
            catch (Exception ex) when (ex is InvalidOperationException or Npgsql.NpgsqlException)
            {
                return;
            }
            lock (_owner._gate)
            {
                Console.Error.Write("\r" + line.PadRight(Math.Min(Console.IsErrorRedirected ? 0 : 150, 150)) + (last ? "\n" : ""));
            }
        }

        public void Dispose()
        {
            _timer.Dispose();
            Draw(last: true);
        }
    }
}
