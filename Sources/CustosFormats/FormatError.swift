/// An error in parsing or checking one of the open formats (hashes, proofs, signed notes, entries).
public struct FormatError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What kind of fault this is; compare codes in tests.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: Hashable, Sendable {
            case malformed, badSize, badProof, badSignature, unknownKey, rootMismatch
        }
        private let value: Value
        private init(_ value: Value) { self.value = value }

        /// The text is not in the expected form.
        public static let malformed = Code(.malformed)
        /// A size or index is out of range.
        public static let badSize = Code(.badSize)
        /// A proof does not have the right shape.
        public static let badProof = Code(.badProof)
        /// A signature does not verify.
        public static let badSignature = Code(.badSignature)
        /// No known key signed the note.
        public static let unknownKey = Code(.unknownKey)
        /// A recomputed root differs from the one given.
        public static let rootMismatch = Code(.rootMismatch)

        public var description: String { "\(value)" }
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }

    public static func == (lhs: FormatError, rhs: FormatError) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }
}
