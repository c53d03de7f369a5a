import CustosCustody
import CustosFileSystem
import CustosFormats
import CustosHTTP
import CustosService
import CustosVault
import Foundation

/// How a command reaches the custody service: through the daemon's socket (the daemon names
/// the caller from the kernel and checks the caller's role), or in process on a vault this
/// account can read (its own, an expert's copy, a read-only mount).
///
/// - `--socket PATH` or `$CUSTOS_SOCKET`: that socket, for every command.
/// - A vault this account can read: acting commands go through the vault's own socket
///   (`<vault>/run/custos.sock`) when its daemon runs, and work on the vault directly otherwise;
///   reading commands read it directly.
/// - A vault this account cannot read (the service account's, closed to others), or none
///   given and none here: the default socket, `/run/custos/custos.sock`. A folder this
///   account can read that holds no vault is said to be none.
enum Gateway {
    case inProcess(CustodyService)
    case socket(String)

    /// The socket of the system's daemon.
    static let defaultSocket = "/run/custos/custos.sock"

    enum Kind { case reading, acting }

    static func resolve(_ options: VaultOptions, _ kind: Kind) throws -> Gateway {
        if let socket = options.explicitSocket { return .socket(socket) }
        let path = options.path
        if FileSystem.exists(path.appending("custos.json")) && FileSystem.mayRead(path.appending("custos.json")) {
            let vault = try options.open()
            let own = vault.ownSocket
            // A daemon that has the vault's lock but does not serve yet (it checks the vault
            // first): the command waits for its socket rather than act beside it (or try one its
            // crashed predecessor left).
            if kind == .acting, vault.daemonIsStartingOnItsOwnSocket { waitForSocket(own, of: vault) }
            // A socket left by a daemon that is gone (killed) is no daemon: the command works on
            // the vault itself.
            if kind == .acting, FileSystem.isSocket(own), vault.daemonIsRunning { return .socket(own.description) }
            return .inProcess(CustodyService(vault: vault, tool: toolVersion, policy: nil, isDaemon: false))
        }
        // A vault that exists but cannot be read (its configuration, or the folder itself), or
        // none given and none here: the daemon's.
        let searchable = path.withCString { access($0, R_OK | X_OK) } == 0
        let closed = FileSystem.exists(path) && (FileSystem.exists(path.appending("custos.json")) || !searchable)
        if closed || (!options.vaultGiven && FileSystem.exists(RawPath(defaultSocket))) {
            return .socket(defaultSocket)
        }
        // Nothing there, or a folder that is no vault: opening says so, with how to make one.
        return .inProcess(CustodyService(vault: try options.open(), tool: toolVersion, policy: nil, isDaemon: false))
    }

    /// Waits (a minute at most) while the vault's daemon starts, until it records that its socket
    /// listens, or stops.
    private static func waitForSocket(_ socket: RawPath, of vault: Vault) {
        let started = Date()
        var told = false
        while vault.daemonIsStartingOnItsOwnSocket && Date().timeIntervalSince(started) < 60 {
            if !told && Date().timeIntervalSince(started) >= 1 {
                Output.error(
                    "custos: the daemon of \(vault.root) is starting (it checks the vault before it serves); waiting for \(socket)"
                )
                told = true
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
    }

    /// Makes the call and returns its reply; throws only when the daemon cannot be reached or
    /// its reply cannot be read.
    func call(
        _ operation: ServiceOperation, _ arguments: JSONObject = [:], timeout: Double = 24 * 3600,
        progress: (String) -> Void = { _ in }
    ) throws -> ServiceReply {
        switch self {
        case .inProcess(let service):
            return service.perform(ServiceCall(operation, arguments), as: .thisProcess, progress: progress)
        case .socket(let path):
            let response: HTTPResponse
            do {
                response = try LocalSocketClient.send(
                    socket: path, method: "POST", path: "/v\(serviceProtocolVersion)/\(operation.name)",
                    headers: [("Content-Type", "application/json")],
                    body: Array(CanonicalJSON.encode(.object(arguments))), timeout: timeout)
            } catch {
                throw CLIError(message: "\(error)")
            }
            return try Self.reply(response, socket: path)
        }
    }

    /// Sends `length` bytes that `produce` writes as the body of an upload (`ingest`, `receive`;
    /// the arguments in the `Custos-Arguments` header) and gives the reply. A `produce` that
    /// throws leaves the body incomplete (the daemon takes nothing of it); its error is thrown.
    static func upload(
        socket: String, _ operation: ServiceOperation, _ arguments: JSONObject, length: Int64,
        produce: (_ send: (UnsafeRawBufferPointer) throws -> Void) throws -> Void
    ) throws -> ServiceReply {
        let response: HTTPResponse
        do {
            response = try LocalSocketClient.upload(
                socket: socket, method: "POST", path: "/v\(serviceProtocolVersion)/\(operation.name)",
                headers: [
                    ("Content-Type", "application/octet-stream"),
                    (UploadArguments.header, UploadArguments.encode(arguments)),
                ], length: length, timeout: 24 * 3600, produce: produce)
        } catch let error as HTTPError {
            throw CLIError(message: "\(error)")
        }
        return try reply(response, socket: socket)
    }

    /// The service's reply in a response of the daemon.
    private static func reply(_ response: HTTPResponse, socket: String) throws -> ServiceReply {
        guard let value = try? CanonicalJSON.parse(response.body) else {
            throw CLIError(
                message: "\(socket): the daemon's reply (HTTP \(response.status)) is not JSON: "
                    + DisplayName.escape(Array(response.body.prefix(200))))
        }
        do {
            return try ServiceReply(json: value)
        } catch {
            throw CLIError(message: "\(socket): \(error)")
        }
    }

    /// Makes the call, prints its notes on standard error, and gives its result; a failure
    /// without a result is thrown (its message, its exit status).
    func perform(_ operation: ServiceOperation, _ arguments: JSONObject = [:]) throws -> (JSONValue, ServiceFailure?) {
        let reply = try call(operation, arguments)
        for note in reply.notes { Output.error("custos: \(note)") }
        guard let result = reply.result else {
            let failure = reply.failure ?? ServiceFailure(.failed, "the daemon gave neither a result nor an error")
            throw CLIError(message: failure.message, exitCode: failure.exitCode)
        }
        return (result, reply.failure)
    }
}

extension ServiceFailure {
    /// The error that ends the command after its result was printed.
    var cliError: CLIError { CLIError(message: message, exitCode: exitCode) }
}
