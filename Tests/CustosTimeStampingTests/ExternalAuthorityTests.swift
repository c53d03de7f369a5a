import CustosFormats
import CustosOpenSSL
import CustosTestSupport
import CustosTimeStamping
import Foundation
import Glibc
import Testing

@Suite(
    "external time-stamping authorities over HTTP", .timeLimit(.minutes(2)),
    .enabled(if: haveProgram("python3") && haveProgram("openssl")))
struct ExternalAuthorityTests {
    let digest = OpenSSLSHA256().sha256(Array("an item's content".utf8))

    func refusal(_ authority: ExternalAuthority) -> TimeStampFailure? {
        do {
            _ = try TimeStampClient.stamp(sha256: digest, authority: authority)
            return nil
        } catch {
            return error
        }
    }

    @Test func aGoodAuthoritysTokenIsCheckedAndKept() throws {
        let server = try OpenSSLAuthority(mode: "ok")
        let token = try TimeStampClient.stamp(
            sha256: digest, authority: ExternalAuthority(url: server.url, anchors: [server.pki.ca]))
        #expect(token.info.policy == "1.2.3.4.1" && token.info.accuracyMilliseconds == 1000)
        #expect(abs(token.skewSeconds) < 60)
        #expect(token.info.authority.contains("CN=Independent TSA"))
        // The kept token is one `openssl ts -verify` accepts.
        let tsr = try server.directory.write("kept.tsr", token.response)
        let verify = try run(
            "openssl", ["ts", "-verify", "-digest", digest.hex, "-in", tsr, "-CAfile", server.directory.file("ca.pem")])
        #expect(verify.output.contains("Verification: OK"), "\(verify.output) \(verify.stderr)")
    }

    @Test(arguments: [
        ("http500", "http", "HTTP 500"),
        ("contenttype", "contentType", "text/html"),
        ("malformed", "malformed", "not a DER"),
        ("rejection", "notGranted", "rejection"),
        ("waiting", "notGranted", "waiting"),
        ("otherhash", "invalid", "does not verify"),
        ("nonce", "invalid", "nonce"),
        ("future", "invalid", "future"),
        ("nousage", "invalid", "timeStamping"),
    ])
    func aMisbehavingAuthorityIsRefused(_ mode: String, _ code: String, _ reason: String) throws {
        let server = try OpenSSLAuthority(mode: mode)
        let failure = try #require(refusal(ExternalAuthority(url: server.url, anchors: [server.pki.ca])))
        #expect(failure.code.description == code, "\(failure)")
        #expect(failure.message.contains(reason), "\(failure)")
    }

    /// The hand-made tokens of the "future" and "nousage" modes are refused for that fault
    /// alone: made the same way with the TSA's own certificate and a fair genTime, one is kept;
    /// with a genTime ten minutes behind the node's clock it is kept too, its skew recorded.
    @Test func aHandMadeTokenIsKeptWhenOnlyItsTimeDiffers() throws {
        let server = try OpenSSLAuthority(mode: "crafted")
        let authority = ExternalAuthority(url: server.url, anchors: [server.pki.ca])
        let fair = try TimeStampClient.stamp(sha256: digest, authority: authority)
        #expect(abs(fair.skewSeconds) < 60 && fair.info.imprint == digest.bytes)
        try server.setMode("skewed")
        let skewed = try TimeStampClient.stamp(sha256: digest, authority: authority)
        #expect((-700 ... -500).contains(skewed.skewSeconds), "\(skewed.skewSeconds)")
        let tsr = try server.directory.write("skewed.tsr", skewed.response)
        let verify = try run(
            "openssl", ["ts", "-verify", "-digest", digest.hex, "-in", tsr, "-CAfile", server.directory.file("ca.pem")])
        #expect(verify.output.contains("Verification: OK"), "\(verify.output) \(verify.stderr)")
    }

    @Test func anUntrustedOrExpiredSignerIsRefused() throws {
        let server = try OpenSSLAuthority(mode: "ok")
        let stranger = try TestAuthority(name: "Stranger")
        let untrusted = try #require(refusal(ExternalAuthority(url: server.url, anchors: [stranger.ca])))
        #expect(untrusted.code == .invalid && untrusted.message.contains("certificate"), "\(untrusted)")
        let now = Int64(Date().timeIntervalSince1970)
        let expired = try OpenSSLAuthority(
            mode: "ok", pki: TestAuthority(name: "Expired TSA", notBefore: now - 86400 * 30, notAfter: now - 86400))
        let late = try #require(refusal(ExternalAuthority(url: expired.url, anchors: [expired.pki.ca])))
        #expect(late.code == .invalid && late.message.contains("expired"), "\(late)")
    }

    @Test func anUnreachableOrSlowAuthorityFailsWithinTheTimeout() throws {
        // A port nobody listens on.
        let unreachable = try #require(
            refusal(ExternalAuthority(url: "http://127.0.0.1:9/tsa", anchors: [], timeoutSeconds: 2)))
        #expect(unreachable.code == .unreachable, "\(unreachable)")
        let slow = try OpenSSLAuthority(mode: "slow")
        let start = Date()
        let timedOut = try #require(
            refusal(ExternalAuthority(url: slow.url, anchors: [slow.pki.ca], timeoutSeconds: 1)))
        #expect(timedOut.code == .timeout, "\(timedOut)")
        // Well before the slow authority's answer, 5 s after the request: the 1 s timeout cut it.
        #expect(Date().timeIntervalSince(start) < 4.5)
        let https = try #require(refusal(ExternalAuthority(url: "https://tsa.example/", anchors: [])))
        #expect(https.code == .unreachable && https.message.contains("only http://"))
    }
}
