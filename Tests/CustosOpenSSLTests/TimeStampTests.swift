import COpenSSL
import CustosFormats
import CustosOpenSSL
import CustosTestSupport
import Foundation
import Testing

@Suite("RFC 3161 time stamps (OpenSSL TS API)", .timeLimit(.minutes(2)))
struct TimeStampTests {
    let digest = OpenSSLSHA256().sha256(Array("evidence".utf8))

    @Test func aTokenOfTheNodesAuthorityChecksAndSaysWhatItStamped() throws {
        let test = try TestAuthority()
        let request = try TimeStampRequest.withRandomNonce(sha256: digest)
        let response = try test.authority().respond(to: request)
        let check = TimeStampVerifier.check(response: response, request: request, anchors: [test.ca])
        #expect(check.passed, "\(check.problems)")
        let info = try #require(check.info)
        #expect(info.policy == "1.3.6.1.4.1.57264.1.1")
        #expect(info.accuracyMilliseconds == 1000)
        #expect(info.authority.contains("CN=Custos test TSA"))
        #expect(info.genTime.hasSuffix("Z") && info.genTime.contains("."))  // Milliseconds.
        #expect(abs(info.genTimeSeconds - Int64(Date().timeIntervalSince1970)) < 60)
        // Serials are unique.
        let second = try TimeStampVerifier.info(response: try test.authority().respond(to: request))
        #expect(!info.serial.isEmpty && info.serial != second.serial)
        // ESSCertIDv2 (signingCertificateV2, 1.2.840.113549.1.9.16.2.47) binds the signer certificate.
        let oid: [UInt8] = [0x06, 0x0B, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x09, 0x10, 0x02, 0x2F]
        #expect(response.firstRange(of: oid) != nil)
    }

    @Test(.enabled(if: haveProgram("openssl")))
    func opensslTsVerifyAcceptsTheToken() throws {
        let test = try TestAuthority()
        let directory = TemporaryDirectory("tsa")
        let request = try TimeStampRequest.withRandomNonce(sha256: digest)
        let token = try directory.write("item.tsr", try test.authority().respond(to: request))
        let anchor = try directory.write("ca.pem", try test.ca.pem())
        let result = try run("openssl", ["ts", "-verify", "-digest", digest.hex, "-in", token, "-CAfile", anchor])
        #expect(result.output.contains("Verification: OK"), "\(result.output) \(result.stderr)")
        // The query the node sends is one openssl reads too.
        let query = try directory.write("item.tsq", try request.der())
        let text = try run("openssl", ["ts", "-query", "-in", query, "-text"])
        #expect(text.output.contains("Hash Algorithm: sha256") && text.output.contains("Certificate required: yes"))
        // Another digest does not verify.
        let other = OpenSSLSHA256().sha256(Array("other".utf8))
        let wrong = try run("openssl", ["ts", "-verify", "-digest", other.hex, "-in", token, "-CAfile", anchor])
        #expect(!wrong.output.contains("Verification: OK"))
    }

    @Test func aTokenForAnotherHashOrNonceOrFromAnUntrustedAuthorityFails() throws {
        let test = try TestAuthority()
        let request = try TimeStampRequest.withRandomNonce(sha256: digest)
        let response = try test.authority().respond(to: request)
        var otherHash = request
        otherHash.sha256 = OpenSSLSHA256().sha256(Array("other".utf8))
        #expect(!TimeStampVerifier.check(response: response, request: otherHash, anchors: [test.ca]).passed)
        var otherNonce = request
        otherNonce.nonce = [0x01, 0x02, 0x03]
        let nonce = TimeStampVerifier.check(response: response, request: otherNonce, anchors: [test.ca])
        #expect(!nonce.passed && nonce.problems.first?.contains("nonce") == true, "\(nonce.problems)")
        let stranger = try TestAuthority(name: "Stranger")
        let untrusted = TimeStampVerifier.check(response: response, request: request, anchors: [stranger.ca])
        #expect(!untrusted.passed && untrusted.problems.first?.contains("certificate") == true, "\(untrusted.problems)")
    }

    @Test func aTokenSignedWhileTheCertificateHadExpiredFails() throws {
        let now = Int64(Date().timeIntervalSince1970)
        let test = try TestAuthority(notBefore: now - 86400 * 10, notAfter: now - 86400)
        let request = try TimeStampRequest.withRandomNonce(sha256: digest)
        let response = try test.authority().respond(to: request)
        let check = TimeStampVerifier.check(response: response, request: request, anchors: [test.ca])
        #expect(!check.passed && check.problems.first?.contains("expired") == true, "\(check.problems)")
    }

    @Test func aCertificateWithoutTheTimeStampingUsageCannotSign() throws {
        let test = try TestAuthority(tsaUsage: "critical,codeSigning")
        #expect(throws: OpenSSLError.self) { try test.authority() }
    }

    @Test func aGenTimeInTheFutureAndMalformedAnswersFail() throws {
        let test = try TestAuthority()
        let request = try TimeStampRequest.withRandomNonce(sha256: digest)
        let response = try test.authority().respond(to: request)
        // This node's clock an hour behind the authority's.
        let behind = TimeStampVerifier.check(
            response: response, request: request, anchors: [test.ca], now: Int64(Date().timeIntervalSince1970) - 3600)
        #expect(!behind.passed && behind.problems.contains { $0.contains("in the future") })
        #expect(
            !TimeStampVerifier.check(response: Array(response.prefix(40)), request: request, anchors: [test.ca]).passed)
        #expect(
            !TimeStampVerifier.check(response: [0x30, 0x03, 0x02, 0x01, 0x02], request: request, anchors: [test.ca])
                .passed)
    }

    /// The fast builder's tokens are the TS API's: OpenSSL checks them, and they have the same
    /// ASN.1 structure, field for field, as a token `TS_RESP_create_response` makes for a
    /// request without a nonce.
    @Test(.enabled(if: haveProgram("openssl")))
    func theBuildersTokensAreTheTSAPIsAndOpensslAcceptsThem() throws {
        let test = try TestAuthority()
        let builder = try #require(
            try TimeStampTokenBuilder(
                key: test.tsaKey, certificate: test.tsa, chain: [test.ca], policy: "1.3.6.1.4.1.57264.1.1"))
        let (response, info) = try builder.stamp(sha256: digest)
        let check = TimeStampVerifier.check(
            response: response, request: TimeStampRequest(sha256: digest, nonce: nil), anchors: [test.ca])
        #expect(check.passed, "\(check.problems)")
        // What the builder says is what the token says.
        #expect(check.info == info)
        #expect(info.imprint == digest.bytes && info.accuracyMilliseconds == 1000)
        #expect(abs(info.genTimeSeconds - Int64(Date().timeIntervalSince1970)) < 60)
        #expect(try builder.stamp(sha256: digest).info.serial != info.serial)

        let directory = TemporaryDirectory("tsa")
        let built = try directory.write("built.tsr", response)
        let anchor = try directory.write("ca.pem", try test.ca.pem())
        let verify = try run("openssl", ["ts", "-verify", "-digest", digest.hex, "-in", built, "-CAfile", anchor])
        #expect(verify.output.contains("Verification: OK"), "\(verify.output) \(verify.stderr)")
        let other = OpenSSLSHA256().sha256(Array("other".utf8))
        let wrong = try run("openssl", ["ts", "-verify", "-digest", other.hex, "-in", built, "-CAfile", anchor])
        #expect(!wrong.output.contains("Verification: OK"))

        let reference = try directory.write(
            "reference.tsr", try test.authority().respond(to: TimeStampRequest(sha256: digest, nonce: nil)))
        /// Each line of `openssl asn1parse` as depth and type, lengths and values left out.
        func outline(_ file: String) throws -> [String] {
            try run("openssl", ["asn1parse", "-inform", "DER", "-in", file]).output.split(separator: "\n").map {
                line in
                let depth = line.split(separator: " ").first { $0.hasPrefix("d=") } ?? ""
                let type = line.split(separator: ":").dropFirst(2).first?.split(separator: " ").first ?? ""
                return "\(depth) \(type)"
            }
        }
        let builtOutline = try outline(built)
        #expect(builtOutline.count > 100)
        #expect(builtOutline == (try outline(reference)))
        /// The TSTInfo as `openssl ts -reply -text` shows it, less what differs from token to token.
        func fields(_ file: String) throws -> [String] {
            try run("openssl", ["ts", "-reply", "-in", file, "-text"]).output.split(separator: "\n").filter {
                !$0.hasPrefix("Serial number") && !$0.hasPrefix("Time stamp") && !$0.hasPrefix("Nonce")
            }.map(String.init)
        }
        let builtFields = try fields(built)
        #expect(
            builtFields.contains("Status: Granted.")
                && builtFields.contains("Accuracy: 0x01 seconds, unspecified millis, unspecified micros"))
        #expect(builtFields == (try fields(reference)))
    }

    @Test func genTimeDropsTrailingZerosOfItsFraction() {
        let seconds: Int64 = 1_795_624_570  // 2026-11-25T...
        let whole = TimeStampTokenBuilder.generalizedTime(seconds: seconds, milliseconds: 0)
        #expect(whole.hasSuffix("Z") && !whole.contains("."))
        #expect(TimeStampTokenBuilder.generalizedTime(seconds: seconds, milliseconds: 800).hasSuffix(".8Z"))
        #expect(TimeStampTokenBuilder.generalizedTime(seconds: seconds, milliseconds: 809).hasSuffix(".809Z"))
        #expect(TimeStampTokenBuilder.generalizedTime(seconds: seconds, milliseconds: 50).hasSuffix(".05Z"))
    }
}
