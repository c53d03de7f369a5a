import COpenSSL
import CustosFormats
import CustosOpenSSL
import Foundation

/// One thread's makers of tokens.
/// Sendable: made on the main thread and handed to one benchmark thread, which alone uses it.
struct Makers: @unchecked Sendable {
    let authority: TimeStampAuthority
    let signer: DigestSigner
    let builder: TimeStampTokenBuilder
}

/// The cost of one token of the node's TSA: made alone, and made by four threads at once (as the
/// daemon's workers make them), against the cost of an ECDSA P-256 signature alone (the floor).
func stampBenchmark() throws {
    let count = options.files
    let epoch = Int64(Date().timeIntervalSince1970)
    let caKey = try SigningKey.generateP256()
    let ca = try Certificate.issue(
        commonName: "bench CA", organization: "Custos bench", subjectKey: caKey, issuer: nil, issuerKey: caKey,
        notBefore: epoch - 86400, notAfter: epoch + 86400 * 365,
        extensions: [(NID_basic_constraints, "critical,CA:TRUE"), (NID_key_usage, "critical,keyCertSign")])
    let tsaKey = try SigningKey.generateP256()
    let tsa = try Certificate.issue(
        commonName: "bench TSA", organization: "Custos bench", subjectKey: tsaKey, issuer: ca, issuerKey: caKey,
        notBefore: epoch - 86400, notAfter: epoch + 86400 * 365,
        extensions: [
            (NID_basic_constraints, "critical,CA:FALSE"), (NID_key_usage, "critical,digitalSignature"),
            (NID_ext_key_usage, "critical,timeStamping"),
        ])
    let digests = (0..<count).map { OpenSSLSHA256().sha256(Array("item \($0)".utf8)) }

    /// Microseconds per token with `threads` threads, each with its own authority.
    func perToken(
        threads: Int, _ make: @escaping @Sendable (Makers, Hash) throws -> Void
    ) throws -> Double {
        let authorities = try (0..<threads).map { _ in
            try TimeStampAuthority(key: tsaKey, certificate: tsa, chain: [ca], policy: "1.2.3.4.1")
        }
        let signers = try (0..<threads).map { _ in try DigestSigner(key: tsaKey) }
        let builders = try (0..<threads).map { _ in
            try TimeStampTokenBuilder(key: tsaKey, certificate: tsa, chain: [ca], policy: "1.2.3.4.1")!
        }
        let group = DispatchGroup()
        let start = now()
        for thread in 0..<threads {
            let makers = Makers(authority: authorities[thread], signer: signers[thread], builder: builders[thread])
            let share = digests.enumerated().filter { $0.offset % threads == thread }.map(\.element)
            group.enter()
            Thread {
                for digest in share { try? make(makers, digest) }
                group.leave()
            }.start()
        }
        group.wait()
        return (now() - start) / Double(count) * 1e6
    }
    let tsAPI: @Sendable (Makers, Hash) throws -> Void = { makers, digest in
        _ = try makers.authority.stamp(try TimeStampRequest.withRandomNonce(sha256: digest))
    }
    let built: @Sendable (Makers, Hash) throws -> Void = { makers, digest in
        _ = try makers.builder.stamp(sha256: digest)
    }
    let signature: @Sendable (Makers, Hash) throws -> Void = { makers, digest in
        _ = try makers.signer.sign(digest: digest.bytes)
    }
    print("stamp benchmark: \(count) tokens of the node's TSA (ECDSA P-256, ESSCertIDv2, two certificates)")
    for threads in [1, 4] {
        let floor = try perToken(threads: threads, signature)
        let api = try perToken(threads: threads, tsAPI)
        let fast = try perToken(threads: threads, built)
        print(
            String(
                format:
                    "  %d thread%@ (wall time per token): TS API %.1f µs, TimeStampTokenBuilder %.1f µs (%.2f of the TS API's), an ECDSA signature alone %.1f µs",
                threads, threads == 1 ? "" : "s", api, fast, fast / api, floor))
    }
}
