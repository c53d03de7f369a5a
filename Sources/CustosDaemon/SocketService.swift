import CustosFileSystem
import CustosFormats
import CustosLocalServer
import CustosService
import Foundation
import Logging

/// The daemon's socket, where people act: each request is a call of the custody service
/// (`POST /v1/<operation>`, a JSON object of arguments; Docs/Protocol.md), made for the caller
/// the kernel names (`PeerCredentials`), never for one the request names. Calls block (SQLite,
/// file I/O), so they run on the daemon's request threads, never on Swift's cooperative pool.
enum SocketService {
    /// The server for `service`, listening where `configuration` says.
    /// `serving` is called once the socket listens at its path.
    static func server(
        service: CustodyService, configuration: DaemonConfiguration, threads: RequestThreads, logger: Logger,
        serving: @escaping @Sendable () -> Void
    ) throws -> LocalServer {
        try LocalServer(
            // Open to the socket group when there is one; otherwise to the service account alone
            // (a vault of one's own: nothing in it is open to other users).
            settings: LocalSocketSettings(
                path: configuration.socket.description, group: configuration.socketGroup,
                mode: configuration.socketGroup == nil ? 0o600 : 0o660),
            limits: LocalServerLimits(
                streamedPaths: Set(ServiceOperation.uploads.map { "/v\(serviceProtocolVersion)/\($0.name)" })),
            logger: logger, serving: serving
        ) { [uploads = UploadSlots()] request, peer in
            await handle(request, peer: peer, service: service, threads: threads, uploads: uploads)
        }
    }

    static func handle(
        _ request: LocalRequest, peer: PeerCredentials, service: CustodyService, threads: RequestThreads,
        uploads: UploadSlots
    ) async -> LocalResponse {
        let prefix = "/v\(serviceProtocolVersion)/"
        guard request.path.hasPrefix(prefix) else {
            return reply(
                ServiceReply(
                    failure: ServiceFailure(
                        .unknownOperation,
                        "\(request.path): not a path of this daemon (protocol version \(serviceProtocolVersion): \(prefix)<operation>)"
                    )))
        }
        let name = String(request.path.dropFirst(prefix.count))
        guard let operation = ServiceOperation.named(name) else {
            return reply(
                ServiceReply(
                    failure: ServiceFailure(
                        .unknownOperation,
                        "\(name): no such operation (known: \(ServiceOperation.all.map(\.name).joined(separator: ", ")))"
                    )))
        }
        if let body = request.bodyStream {
            // An upload (the server streams the body of these paths alone).
            return await UploadStreaming.respond(
                request, operation: operation, body: body, peer: peer, service: service, threads: threads,
                slots: uploads)
        }
        guard request.method == "POST" || (request.method == "GET" && !operation.records) else {
            return reply(
                ServiceReply(failure: ServiceFailure(.badRequest, "\(name): use POST with a JSON object of arguments")))
        }
        var arguments = JSONObject()
        if !request.body.isEmpty {
            guard let value = try? CanonicalJSON.parse(request.body), case .object(let object) = value else {
                return reply(
                    ServiceReply(failure: ServiceFailure(.badRequest, "\(name): the body must be a JSON object")))
            }
            arguments = object
        }
        let call = ServiceCall(operation, arguments)
        if arguments["plan"]?.boolValue != true {
            // The file's bytes are streamed (FileStreaming): an original, once its extraction
            // is under way; a handover or a bundle, once recorded.
            switch operation {
            case .extract: return await FileStreaming.extract(call, peer: peer, service: service, threads: threads)
            case .transfer: return await FileStreaming.transfer(call, peer: peer, service: service, threads: threads)
            case .bundle: return await FileStreaming.bundle(call, peer: peer, service: service, threads: threads)
            default: break
            }
        }
        guard threads.waiting < RequestThreads.maximumWaiting else { return busy() }
        let result = await threads.run {
            // The names of the caller's account and groups are looked up here, off the event
            // loop (the user database may be remote).
            let caller = Caller.peer(pid: peer.pid, uid: peer.uid, gid: peer.gid, groups: peer.groups)
            return service.perform(call, as: caller)
        }
        return reply(result)
    }

    /// The answer when too many calls already wait for a thread: 503, try again.
    static func busy() -> LocalResponse {
        LocalResponse.error(
            status: 503, code: "busy",
            message: "the daemon has \(RequestThreads.maximumWaiting) calls waiting already; try again shortly")
    }

    static func reply(_ reply: ServiceReply) -> LocalResponse {
        LocalResponse(status: reply.httpStatus, body: .bytes(CanonicalJSON.encode(reply.json)))
    }
}

/// A few threads for the socket's calls: a call blocks one of them, never a cooperative thread,
/// and no more calls touch the vault at once than there are threads (the rest wait their turn;
/// a report's call starts one thread more for its re-check of the vault, of the same priority).
/// Sendable: its state is the queue, which is.
final class RequestThreads: Sendable {
    private let jobs = BlockingQueue<@Sendable () -> Void>()

    /// `nice`: the threads' priority (nil: the daemon's own, as its sealing threads have).
    init(count: Int, name: String = "custos-request", nice: Int? = 19) {
        for index in 0..<count {
            let jobs = self.jobs
            let thread = Thread {
                // People's calls yield the CPU to sealing: a burst keeps its pace while they are
                // answered (Linux nices threads one by one; an idle node answers as fast). Nice 19:
                // at 10, 50 clients asking still slowed a burst by 10-16 % on 2 cores; at 19 by
                // nothing measurable, the calls answered meanwhile at about the same rate, their
                // slowest later (Docs/Performance.md, issue 11).
                if let nice { ThisProcess.lowerThisThreadPriority(toNice: nice) }
                while true {
                    if let job = jobs.pop(timeout: 60) {
                        job()
                    } else if jobs.isClosed {
                        return  // closed and drained
                    }
                }
            }
            thread.name = "\(name)-\(index)"
            thread.start()
        }
    }

    /// The most calls that may wait for a thread; beyond, a call is answered 503. As many as the
    /// server's connections: each connection has one call at a time, so this holds only if
    /// that limit is raised; the costly calls are bounded in the service (one `verify` at a time).
    static let maximumWaiting = 512

    /// The calls waiting for a thread now.
    var waiting: Int { jobs.count }

    /// Runs `body` on one of the threads and gives its result.
    func run<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            jobs.push { continuation.resume(returning: body()) }
        }
    }

    /// Lets the threads end once the calls waiting are done.
    func close() { jobs.close() }
}
