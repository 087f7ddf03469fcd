using System.Security.Cryptography;
using System.Text;

namespace Contacts.Dev.Servers;

/// <summary>
/// Where a root user's PostgreSQL cluster can live. initdb and the server run as the postgres OS user, who cannot enter a
/// checkout inside a folder only its owner may enter (/root, a `mktemp -d` folder). Then the cluster moves to
/// /var/tmp/contacts-postgres-HASH, HASH from the wanted folder's path: one stable folder per checkout, reused by the next
/// run, owned by postgres. Chosen over granting postgres traversal of the user's folders with an ACL (setfacl is not
/// always installed, not every filesystem has ACLs, and it widens access the user chose to keep closed), and over /tmp
/// (emptied at boot on many systems, which would lose a durable cluster).
/// </summary>
public static class PostgresDataLocation
{
    public const string FallbackRoot = "/var/tmp";

    /// <summary>The folder a cluster wanted at <paramref name="wanted"/> moves to when postgres cannot reach it.</summary>
    public static string Fallback(string wanted)
    {
        var hash = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(Path.GetFullPath(wanted))))[..16].ToLowerInvariant();
        return Path.Combine(FallbackRoot, $"contacts-postgres-{hash}");
    }

    /// <summary>The wanted folder when postgres can enter it, otherwise the fallback; either way owned by postgres.</summary>
    internal static async Task<string> ReachableByPostgres(string wanted, bool durable, CancellationToken ct)
    {
        await ChildProcess.Run("chown", ["postgres:postgres", wanted], ct: ct);
        if (await PostgresCanEnter(wanted, ct))
        {
            return wanted;
        }
        var fallback = Fallback(wanted);
        if (Directory.Exists(fallback) && (new DirectoryInfo(fallback).LinkTarget is not null))
        {
            throw new InvalidOperationException($"{fallback} is a symbolic link, not a folder of ours: remove it, then start again.");
        }
        Directory.CreateDirectory(fallback);
        await ChildProcess.Run("chown", ["postgres:postgres", fallback], ct: ct);
        await ChildProcess.Run("chmod", ["700", fallback], ct: ct);
        if (!await PostgresCanEnter(fallback, ct))
        {
            throw new InvalidOperationException(
                $"The postgres OS user can enter neither {wanted} nor {fallback}: give it access (chmod o+x on the folders above the checkout) " +
                "or set CONTACTS_POSTGRES to a server of your own.");
        }
        if (durable)
        {
            // Left where the user looks for the data, so the move is not a mystery.
            await File.WriteAllTextAsync(Path.Combine(wanted, "WHERE-IS-THE-DATA.txt"),
                $"The postgres user cannot enter this checkout's folder, so this cluster's data is in {fallback}.{Environment.NewLine}", ct);
        }
        else
        {
            Directory.Delete(wanted);
        }
        return fallback;
    }

    private static async Task<bool> PostgresCanEnter(string folder, CancellationToken ct)
    {
        try
        {
            await ChildProcess.Run("test", ["-x", folder, "-a", "-w", folder], asUser: "postgres", ct: ct);
            return true;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }
}
