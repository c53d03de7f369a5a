import ArgumentParser
import CustosFormats
import CustosService

struct Annotate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Add a note to an item's custody record (an `annotated` event in the ledger).",
        discussion: """
            The note is kept in the event's details document in the vault (details/), never in the \
            ledger entry, which holds only the document's SHA-256 (entries may be mirrored to other \
            bureaus). A note must be one line of text: no control characters (newlines and tabs \
            included), at most 4096 bytes of UTF-8. `custos history ITEM` shows the notes.
            """)
    @OptionGroup var vault: VaultOptions
    @Argument(help: "Item id (or a unique prefix), or a SHA-256 prefix.") var item: String
    @Option(help: "The note (one line, at most 4096 bytes of UTF-8).") var note: String
    @Option(help: "Your name as the examiner, kept with the note (the account is recorded in any case).")
    var examiner: String?

    func run() throws {
        let gateway = try Gateway.resolve(vault, .acting)
        var arguments: JSONObject = ["item": .string(item), "note": .string(note)]
        if let examiner { arguments["examiner"] = .string(examiner) }
        let (result, failure) = try gateway.perform(.annotate, arguments)
        let record = result["items"]?.arrayValue?.first
        let name = record?["name"]?.byteStringValue.map { DisplayName.escape($0) } ?? "?"
        let entries = (result["entries"]?.arrayValue ?? []).compactMap(\.integerValue).map { "\($0)" }
        Output.line(
            "annotated item \(record?["item"]?.stringValue ?? item) (\(name)): entry \(entries.joined(separator: ", "))"
        )
        if let failure { throw failure.cliError }
    }
}
