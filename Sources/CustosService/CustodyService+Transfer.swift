import CustosCustody
import CustosFileSystem
import CustosFormats
import CustosLedger
import CustosOpenSSL
import CustosVault
import Logging

extension ServiceOperation {
    /// Handing items over to another node: `plan: true` checks the call (nothing recorded);
    /// otherwise the handover file is built, recorded and its bytes streamed
    /// (`CustodyService.transfer(_:as:open:)`, the daemon's socket only).
    public static let transfer = ServiceOperation(name: "transfer", action: .transfer, records: true)
}

extension CustodyService {
    /// `transfer` with `plan: true` (`items`, `to`, `reason`, `examiner?`): the items resolved,
    /// the recipient, the reason and the examiner checked (`CustodySession.checkTransfer`), the
    /// node's key at hand, nothing built or recorded: `{"items": [item]}`. The client checks its
    /// output before it asks for the handover.
    func transferPlan(_ arguments: Arguments, custody: Custody) throws -> ServiceReply {
        guard try arguments.bool("plan") == true else {
            throw ServiceFailure(
                .badRequest,
                "transfer: the handover file is streamed by the daemon's socket (give plan: true to check the call)")
        }
        let session = try custody.session(readOnly: true)
        let records = try session.checkTransfer(
            try transferredItems(arguments, session: session), to: try arguments.string("to"),
            reason: try arguments.string("reason"))
        _ = try vault.signer()  // a missing or exposed key refuses the transfer before anything is built
        return ServiceReply(result: .object(["items": .array(records.map(\.json))]))
    }

    private func transferredItems(_ arguments: Arguments, session: CustodySession) throws -> [ItemRecord] {
        let texts = try arguments.strings("items")
        guard !texts.isEmpty else { throw ServiceFailure(.badRequest, "transfer: items is missing") }
        return try texts.map { try session.resolveItem($0) }
    }

    /// `transfer` with its handover file streamed (`items`, `to`, `reason`, `output`: the
    /// absolute path of the file the client writes, as bytes; `examiner?`). The role check and
    /// the checks of the call are `perform`'s (`plan: true`; a refusal is recorded there). Then
    /// the shared workflow (`CustodySession.transfer`) builds the handover, as the service
    /// account, into a temporary in the vault's `tmp/` (the daemon never writes into the
    /// caller's folder), re-hashing every archive before anything is recorded, and records the
    /// `transferred` event for the caller, naming `output` as its file. Only then is `open`
    /// given the file's header and returns the sink its bytes go to (the daemon: its socket's
    /// stream); the temporary is removed in every case.
    ///
    /// The reply is the call's: before `open`, why nothing was recorded; after, the recorded
    /// transfer (`{items, entries, event, handover, checkpoint, file, size, sha256}`, the
    /// stream's trailer), with a failure when the bytes could not all be sent: the record
    /// stands, and a new `transfer` makes a new handover.
    public func transfer<Sink: BuiltFileSink>(
        _ call: ServiceCall, as caller: Caller, open: (BuiltFileHeader) throws -> Sink
    ) -> ServiceReply {
        streamBuiltFile(call, as: caller, kind: .handover, open: open) { custody, arguments, temporary, output in
            let session = try custody.session()
            let records = try transferredItems(arguments, session: session)
            let receipt: TransferReceipt
            do {
                receipt = try session.transfer(
                    records, to: try arguments.string("to"), reason: try arguments.string("reason"),
                    output: temporary, recordedAs: RawPath(bytes: output))
            } catch let error as CustodyError {
                // As the command in process (`handoverFailure`): exit 1 only when bytes are not
                // those recorded or signed; an archive missing from the vault is the vault's
                // failure (exit 2).
                let code: ServiceFailure.Code =
                    switch error.code {
                    case .altered: .faultFound
                    case .missing: .failed
                    default: Self.failure(for: error).code
                    }
                throw ServiceFailure(code, error.description)
            }
            return BuiltFile(
                event: receipt.event, items: records, session: session,
                extra: [
                    "handover": .string(receipt.document.hex),
                    "checkpoint": .integer(Int64(receipt.checkpointSize)),
                ])
        }
    }
}
