import Yams

/// A small YAML file of settings (the daemon's configuration, a sidecar), read with Yams: each
/// value with the line it is on, so that a bad value is refused with its file, line and reason.
/// Values are taken as written (`007` stays `007`): YAML's implicit typing never changes them.
struct SettingsFile {
    /// One setting: its dotted key (`seizure.place`), its text as written, and its line.
    struct Value {
        var key: String
        var text: String
        var line: Int
    }

    let name: String
    private(set) var values: [Value] = []

    /// Whether a value may be a list (a sidecar's may not: each of its values is one text).
    private let listsAllowed: Bool

    /// Parses `text` (named `name` in messages). Nested mappings give dotted keys; a sequence of
    /// scalars gives one value, its items joined by commas, when `listsAllowed`; otherwise a
    /// list is refused with its line.
    init(name: String, text: String, listsAllowed: Bool = true) throws(ConfigurationError) {
        self.name = name
        self.listsAllowed = listsAllowed
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            throw Self.describe(error, file: name, text: text)
        } catch {
            throw ConfigurationError(file: name, line: nil, "cannot be read as YAML: \(error)")
        }
        guard let root else { return }  // An empty file: every default.
        guard case .mapping(let mapping) = root else {
            throw ConfigurationError(
                file: name, line: root.mark?.line, "must be a mapping of `key: value` lines")
        }
        try collect(mapping, prefix: "")
    }

    private mutating func collect(_ mapping: Node.Mapping, prefix: String) throws(ConfigurationError) {
        var seen = Set<String>()
        for (keyNode, valueNode) in mapping {
            let line = keyNode.mark?.line
            guard case .scalar(let keyScalar) = keyNode else {
                throw ConfigurationError(file: name, line: line, "a key must be a plain word")
            }
            let key = prefix + keyScalar.string
            guard seen.insert(key).inserted else {
                throw ConfigurationError(file: name, line: line, "\(key): given twice")
            }
            switch valueNode {
            case .scalar(let scalar):
                values.append(Value(key: key, text: scalar.string, line: line ?? 0))
            case .mapping(let nested):
                try collect(nested, prefix: key + ".")
            case .sequence(let sequence):
                guard listsAllowed else {
                    throw ConfigurationError(
                        file: name, line: line, "\(key): a value must be a single text, not a list")
                }
                var items = [String]()
                for item in sequence {
                    guard case .scalar(let scalar) = item else {
                        throw ConfigurationError(file: name, line: item.mark?.line, "\(key): a list of plain values")
                    }
                    items.append(scalar.string)
                }
                values.append(Value(key: key, text: items.joined(separator: ","), line: line ?? 0))
            case .alias:
                throw ConfigurationError(file: name, line: line, "\(key): YAML aliases are not accepted")
            }
        }
    }

    private static func describe(_ error: YamlError, file: String, text: String) -> ConfigurationError {
        switch error {
        case .duplicatedKeysInMapping(let duplicates, let context):
            // The line of the key's second appearance in the same mapping: after its first (the
            // context's mark), at the same indentation (a key of another mapping is not it).
            let key = duplicates.first ?? ""
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
            let indentation = context.mark.column - 1
            let second = lines.indices.first { index in
                guard index + 1 > context.mark.line else { return false }
                let line = lines[index].dropFirst(indentation)
                return lines[index].prefix(indentation).allSatisfy { $0 == " " } && line.hasPrefix(key)
                    && line.dropFirst(key.count).drop { $0 == " " }.hasPrefix(":")
            }
            return ConfigurationError(
                file: file, line: second.map { $0 + 1 } ?? context.mark.line, "\(key): given twice")
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
            .composer(let context, let problem, let mark, _):
            // A quote or bracket left open is found only lines later (at the end of the text, or
            // where a token no longer fits): name the line where it was opened (libyaml's context).
            if let context, context.text.contains("quoted scalar") || context.text.contains("flow"),
                context.mark.line < mark.line
            {
                let opened = context.text.trimmingPrefix("while parsing ").trimmingPrefix("while scanning ")
                return ConfigurationError(
                    file: file, line: context.mark.line,
                    "not valid YAML: \(opened) opened on this line is never closed (\(problem))")
            }
            return ConfigurationError(file: file, line: mark.line, "not valid YAML: \(problem)")
        default:
            return ConfigurationError(file: file, line: nil, "not valid YAML: \(error)")
        }
    }
}

/// A bad setting: the file (or environment variable), the line, and the reason.
public struct ConfigurationError: Error, CustomStringConvertible, Sendable {
    public let file: String
    public let line: Int?
    public let message: String

    public init(file: String, line: Int?, _ message: String) {
        self.file = file
        self.line = line
        self.message = message
    }

    public var description: String {
        if let line { return "\(file):\(line): \(message)" }
        return "\(file): \(message)"
    }
}
