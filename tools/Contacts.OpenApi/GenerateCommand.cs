namespace Contacts.OpenApi;

/// <summary>tools/openapi: writes the public API's document from the endpoints (or, with --check, says whether it is current).</summary>
public static class GenerateCommand
{
    public static async Task<int> Main(string[] args)
    {
        var root = new DirectoryInfo(Directory.GetCurrentDirectory());
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "Contacts.sln")))
        {
            root = root.Parent;
        }
        if (root is null)
        {
            await Console.Error.WriteLineAsync("run it inside the repository (no Contacts.sln above the current folder)");
            return 2;
        }
        var path = Path.Combine(root.FullName, PublicApiGenerator.DocumentPath);
        var generated = await PublicApiGenerator.GenerateAsync();
        var committed = File.Exists(path) ? await File.ReadAllTextAsync(path) : "";
        if (args.Contains("--check"))
        {
            Console.WriteLine(committed == generated ? $"{PublicApiGenerator.DocumentPath} is current" : $"{PublicApiGenerator.DocumentPath} is out of date: run tools/openapi");
            return committed == generated ? 0 : 1;
        }
        await File.WriteAllTextAsync(path, generated);
        Console.WriteLine(committed == generated ? $"{PublicApiGenerator.DocumentPath} unchanged" : $"wrote {PublicApiGenerator.DocumentPath}");
        return 0;
    }
}
