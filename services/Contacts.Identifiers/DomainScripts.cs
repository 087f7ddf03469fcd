namespace Contacts.Identifiers;

/// <summary>
/// Spots homograph domains: a label whose letters come from more than one script (a Cyrillic 'а' inside "pаypal") is
/// mixed. Latin may combine with Han, kana and Hangul (as UTS #39's highly restrictive profile allows); nothing else mixes.
/// </summary>
internal static class DomainScripts
{
    private enum Script { Latin, Greek, Cyrillic, Armenian, Hebrew, Arabic, Cjk, Other }

    public static bool IsMixed(string label)
    {
        var scripts = new HashSet<Script>();
        var otherBlocks = new HashSet<int>();
        foreach (var c in label.Where(char.IsLetter))
        {
            var script = Of(c);
            scripts.Add(script);
            if (script == Script.Other)
            {
                otherBlocks.Add(c >> 7);
            }
        }
        scripts.Remove(Script.Cjk);
        var hadCjk = label.Any(c => char.IsLetter(c) && Of(c) == Script.Cjk);
        if (hadCjk)
        {
            scripts.Remove(Script.Latin);
        }
        return scripts.Count > 1 || otherBlocks.Count > 1 || (hadCjk && scripts.Count > 0);
    }

    private static Script Of(char c) => c switch
    {
        <= '\u024F' or (>= '\u1E00' and <= '\u1EFF') or (>= '\u2C60' and <= '\u2C7F') or (>= '\uA720' and <= '\uA7FF') => Script.Latin,
        (>= '\u0370' and <= '\u03FF') or (>= '\u1F00' and <= '\u1FFF') => Script.Greek,
        (>= '\u0400' and <= '\u052F') or (>= '\u1C80' and <= '\u1C8F') or (>= '\u2DE0' and <= '\u2DFF') or (>= '\uA640' and <= '\uA69F') => Script.Cyrillic,
        >= '\u0530' and <= '\u058F' => Script.Armenian,
        >= '\u0590' and <= '\u05FF' => Script.Hebrew,
        (>= '\u0600' and <= '\u06FF') or (>= '\u0750' and <= '\u077F') or (>= '\u08A0' and <= '\u08FF') => Script.Arabic,
        (>= '\u1100' and <= '\u11FF') or (>= '\u3040' and <= '\u312F') or (>= '\u31F0' and <= '\u31FF') or (>= '\u3400' and <= '\u4DBF')
            or (>= '\u4E00' and <= '\u9FFF') or (>= '\uAC00' and <= '\uD7AF') => Script.Cjk,
        _ => Script.Other,
    };
}
