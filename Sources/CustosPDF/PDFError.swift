/// Why a PDF could not be made: what failed, and the underlying cause (cairo's status string,
/// `strerror`), so a person can act on it. Equality is by ``code``.
public struct PDFError: Error, CustomStringConvertible, Sendable, Equatable {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: String {
            case fontMissing = "font-missing"
            case cairo = "cairo"
            case write = "write"
            case open = "open"
        }
        private let value: Value
        private init(_ value: Value) { self.value = value }

        /// A font family the layout names is not installed (fontconfig would substitute another).
        public static let fontMissing = Code(.fontMissing)
        /// cairo or pango failed (the cause is cairo's status string).
        public static let cairo = Code(.cairo)
        /// The output could not be written (the cause is the errno's text).
        public static let write = Code(.write)
        /// The output file could not be created.
        public static let open = Code(.open)

        public var description: String { value.rawValue }
    }

    public let code: Code
    public let message: String
    /// cairo's status string or `strerror(errno)`, when there is one.
    public let cause: String?

    public init(code: Code, message: String, cause: String? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
    }

    public var description: String {
        cause.map { "\(message): \($0)" } ?? message
    }

    public static func == (lhs: PDFError, rhs: PDFError) -> Bool { lhs.code == rhs.code }
}
