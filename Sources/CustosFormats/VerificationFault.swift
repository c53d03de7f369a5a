/// One fault that a verification found: what it is about, what was wrong, and what was expected
/// and found. Verification returns every fault it finds as values, never only the first.
public struct VerificationFault: Hashable, Sendable, CustomStringConvertible {
    /// What the fault concerns: `item <id>`, `entry <n>`, `checkpoint <size>`, `archive <sha256>`.
    public var subject: String
    /// A short code, stable for scripts: `archive-digest`, `chain-broken`, `bad-signature`, ….
    public var code: String
    /// A sentence for a person.
    public var message: String
    public var expected: String?
    public var found: String?

    public init(subject: String, code: String, message: String, expected: String? = nil, found: String? = nil) {
        self.subject = subject
        self.code = code
        self.message = message
        self.expected = expected
        self.found = found
    }

    public var description: String {
        var text = "\(subject): \(message)"
        if let expected { text += "\n    expected: \(expected)" }
        if let found { text += "\n    found:    \(found)" }
        return text
    }

    public var json: JSONValue {
        var members: JSONObject = [
            "subject": .string(subject), "code": .string(code), "message": .string(message),
        ]
        if let expected { members["expected"] = .string(expected) }
        if let found { members["found"] = .string(found) }
        return .object(members)
    }
}
