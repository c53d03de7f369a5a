import CustosLocalServer
import CustosService

/// `transfer` on the daemon's socket (Docs/Protocol.md): the handover file, built and recorded
/// by the shared workflow (`CustodyService.transfer`, `CustodySession.transfer`) in the vault's
/// `tmp/`, is streamed to the client, which writes it where it declared. As `extract` does
/// (`ExtractionStreaming`), the call runs on one of the daemon's request threads from start to
/// end, and its bytes go through a `ChunkFeed` a few chunks ahead of the socket at most: memory
/// stays flat whatever the handover's size, and no cooperative thread ever blocks.
enum TransferStreaming {
    static func respond(
        _ call: ServiceCall, peer: PeerCredentials, service: CustodyService, threads: RequestThreads
    ) async -> LocalResponse {
        guard threads.waiting < RequestThreads.maximumWaiting else { return SocketService.busy() }
        return await withCheckedContinuation { (continuation: CheckedContinuation<LocalResponse, Never>) in
            let answer = ExtractionStreaming.Answer(continuation)
            Task {
                await threads.run {
                    let caller = Caller.peer(pid: peer.pid, uid: peer.uid, gid: peer.gid, groups: peer.groups)
                    let feed = ChunkFeed(capacity: ExtractionStreaming.chunksAhead)
                    var sink: SocketSink?
                    let reply = service.transfer(call, as: caller) { header in
                        // The transfer is recorded: the stream begins.
                        answer.give(
                            LocalResponse(
                                status: 200, contentType: ExtractionWire.transferContentType,
                                body: .stream(feed.stream)))
                        let opened = SocketSink(feed: feed)
                        sink = opened
                        try feed.send(ExtractionWire.header(header))
                        return opened
                    }
                    guard let sink else {
                        answer.give(SocketService.reply(reply))
                        return
                    }
                    // The bytes ended (early when the sending stopped), then the outcome.
                    sink.close()
                    try? feed.send(ExtractionWire.trailer(reply))
                    feed.finish()
                }
            }
        }
    }
}

/// The handover file's bytes go out as the original's do: frames on the answer's stream.
extension SocketSink: HandoverSink {}
