/// Text put into a shell command that a person or a test runs as written (VERIFY.md, a report's
/// commands): one word for a POSIX shell, whatever it holds.
public enum ShellWord {
    /// `text` in single quotes, each `'` in it written `'\''`: the shell takes it as one word,
    /// byte for byte (no `$`, backtick, `;` or space means anything in it).
    public static func quoted(_ text: String) -> String {
        "'" + text.split(separator: "'", omittingEmptySubsequences: false).joined(separator: #"'\''"#) + "'"
    }
}
