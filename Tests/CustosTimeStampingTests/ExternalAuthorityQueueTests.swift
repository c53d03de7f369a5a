import CustosFormats
import CustosOpenSSL
import CustosTimeStamping
import Testing

/// The policy of asking an external authority, without the network: what it is asked, when it
/// is asked again after failing, and when the alarm is raised and cleared.
@Suite("asking an external authority: order, back-off, alarm", .timeLimit(.minutes(1)))
struct ExternalAuthorityQueueTests {
    let queue = ExternalAuthorityQueue(
        name: "tsa", client: ExternalAuthority(url: "http://127.0.0.1:9/", anchors: []), anchors: .zero)
    let failure = TimeStampFailure(.unreachable, authority: "tsa", "connection refused")

    func digest(_ n: Int) -> Hash { OpenSSLSHA256().sha256(Array("item \(n)".utf8)) }

    @Test func theLatestCheckpointIsAskedFirstThenItemsInLedgerOrderUpToTheLimit() {
        queue.items = (0..<5).map { ("item-\($0)", digest($0), 1_000) }
        queue.checkpoint = (size: 10, root: digest(99), imprint: digest(100))
        let subjects = queue.subjects(limit: 3)
        #expect(subjects.map(\.item) == ["", "item-0", "item-1"])
        #expect(subjects.first?.imprint == digest(100))
        queue.checkpoint = nil
        #expect(queue.subjects(limit: 64).map(\.item) == (0..<5).map { "item-\($0)" })
    }

    @Test func eachFailureDoublesTheWaitUpToTenMinutesAndAnAnswerResetsIt() {
        queue.items = [("item-0", digest(0), 1_000)]
        var waits = [Double]()
        for _ in 0..<12 { waits.append(queue.failed(failure, now: 100, retrySeconds: 1)) }
        #expect(waits.prefix(6) == [1, 2, 4, 8, 16, 32])
        #expect(waits.last == ExternalAuthorityQueue.longestRetry)
        #expect(!queue.isDue(now: 100 + 599))
        #expect(queue.isDue(now: 100 + 600))
        #expect(queue.lastProblem.contains("connection refused"))
        #expect(queue.answered(), "it had been failing")
        #expect(!queue.answered())
        #expect(queue.failed(failure, now: 0, retrySeconds: 1) == 1)
    }

    @Test func theAlarmIsRaisedOncePerEpisodeAndClearedWhenNothingAwaits() {
        queue.items = [("old", digest(0), 1_000), ("new", digest(1), 1_900)]
        #expect(queue.alarmDue(nowSeconds: 1_500, alarmSeconds: 600) == nil, "not yet late")
        let late = queue.alarmDue(nowSeconds: 2_000, alarmSeconds: 600)
        #expect(late?.item == "old" && late?.waitedSeconds == 1_000)
        #expect(queue.alarmDue(nowSeconds: 3_000, alarmSeconds: 600) == nil, "once per episode")
        #expect(!queue.alarmCleared(), "items still await")
        queue.items = []
        #expect(queue.alarmCleared())
        #expect(!queue.alarmCleared())
    }

    @Test func nothingToAskIsNeverDue() {
        #expect(!queue.isDue(now: 1e9))
        #expect(queue.subjects(limit: 64).isEmpty)
    }
}
