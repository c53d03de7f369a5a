import CustosTestSupport
import Foundation
import Testing

/// `verify` when the node TSA's chain is missing from the vault: one fault that names the file,
/// and none of the tokens it could not check is counted as verified.
@Suite("verify without the node TSA's chain", .timeLimit(.minutes(2)))
struct MissingChainTests {
    @Test func aMissingChainIsOneFaultAndNoTokenIsCountedVerified() throws {
        let node = try Node()
        let files = try (0..<3).map { try node.directory.write("f\($0).bin", randomBytes(1000 + $0)) }
        #expect(try node.custos(["ingest"] + files).status == 0)
        let before = try node.verify()
        #expect(before.status == 0 && before.output.contains("time stamps: 4 tokens re-hashed and verified"))
        let chain = node.vault + "/tsa/chain.pem"
        let kept = try node.directory.write(
            "chain-from-the-bureau.pem", [UInt8](try Data(contentsOf: URL(fileURLWithPath: chain))))
        try FileManager.default.removeItem(atPath: chain)

        let result = try node.verify()
        #expect(result.status == 1)
        #expect(result.output.contains("time stamps: 0 tokens re-hashed and verified"), "\(result.output)")
        #expect(result.output.contains("verification FAILED: 1 faults"), "\(result.output)")
        #expect(result.output.contains("[tsa-chain-missing] \(chain): "), "\(result.output)")
        // 3 items' tokens, the ingest's checkpoint's, and that of the checkpoint `before` signed
        // when it recorded its verification.
        #expect(result.output.contains("its 5 tokens were not checked"), "\(result.output)")
        // Without the chain the node's TSA cannot stamp a checkpoint: the run is not recorded,
        // and nothing is left uncovered.
        #expect(result.stderr.contains("not recorded: "), "\(result.stderr)")
        #expect(!result.output.contains("self-signed"), "\(result.output)")
        // With the chain given by the expert, every token verifies again.
        let given = try node.custos(["verify", "--tsa-anchor", kept])
        #expect(
            given.status == 0 && given.output.contains("time stamps: 5 tokens re-hashed and verified"),
            "\(given.output)")
    }
}
