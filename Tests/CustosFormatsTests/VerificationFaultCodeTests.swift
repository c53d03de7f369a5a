import CustosFormats
import Foundation
import Testing

/// The fault codes scripts rely on are exactly those Docs/Verification.md documents: every code
/// the code base can emit is there, and nothing there is a code it does not emit.
@Suite struct VerificationFaultCodeTests {
    /// The codes listed in the guide's "Fault codes" section: the first cell of each table row.
    static func documentedCodes() throws -> [String] {
        let guide = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Docs").appendingPathComponent("Verification.md")
        let text = try String(contentsOf: guide, encoding: .utf8)
        var codes = [String]()
        var inSection = false
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("## ") { inSection = line == "## Fault codes" }
            guard inSection, line.hasPrefix("| `") else { continue }
            let cell = line.dropFirst(3).prefix { $0 != "`" }
            codes.append(String(cell))
        }
        return codes
    }

    @Test func everyCodeIsDocumentedAndEveryDocumentedCodeExists() throws {
        let documented = try Self.documentedCodes()
        try #require(!documented.isEmpty, "Docs/Verification.md has no \"## Fault codes\" table")
        let emitted = VerificationFault.Code.allCases.map(\.rawValue)
        #expect(Set(emitted).subtracting(documented).sorted() == [], "codes missing from Docs/Verification.md")
        #expect(Set(documented).subtracting(emitted).sorted() == [], "documented codes that are not emitted")
        #expect(documented.count == Set(documented).count, "a code is documented twice")
    }

    @Test func theCodeIsPrintedAsItsStableText() {
        let fault = VerificationFault(subject: "entry 3", code: .chainBroken, message: "m")
        #expect("\(fault.code)" == "chain-broken")
        #expect(fault.json.objectValue?["code"] == .string("chain-broken"))
    }
}
