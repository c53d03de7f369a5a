import COpenSSL
import CustosFormats
import Foundation

/// What a time-stamp token says, read from its TSTInfo.
public struct TimeStampInfo: Sendable, Equatable {
    /// genTime, as the authority wrote it (GeneralizedTime, UTC).
    public var genTime: String
    /// genTime in seconds since the epoch (fractions dropped).
    public var genTimeSeconds: Int64
    /// The serial number, hexadecimal.
    public var serial: String
    public var policy: String
    /// The stated accuracy in milliseconds, if any.
    public var accuracyMilliseconds: Int64?
    /// The signer certificate's subject (RFC 2253), when the token holds it.
    public var authority: String
    /// The digest stamped (the message imprint).
    public var imprint: [UInt8] = []
}

/// The result of checking a time-stamp response: a value, never an exception, for `verify`.
public struct TimeStampCheck: Sendable {
    public var info: TimeStampInfo?
    /// Empty when the token is good.
    public var problems: [String]
    public var passed: Bool { problems.isEmpty && info != nil }
}

/// Checks RFC 3161 responses: status granted; the imprint and nonce those of the request; the
/// signature and ESS certificate binding; the signer's chain up to a trust anchor, valid at
/// genTime, with extendedKeyUsage=critical,timeStamping; genTime not in the future beyond the
/// stated accuracy.
public enum TimeStampVerifier {
    /// Parses the TSTInfo of a response (DER `TimeStampResp`) without checking it.
    public static func info(response der: [UInt8]) throws -> TimeStampInfo {
        let response = try parse(der)
        defer { TS_RESP_free(response) }
        guard let tst = TS_RESP_get_tst_info(response) else {
            throw OpenSSLError(call: "TS_RESP_get_tst_info", message: "the response holds no token")
        }
        return info(tst, response: response)
    }

    static func parse(_ der: [UInt8]) throws -> OpaquePointer {
        let response = der.withUnsafeBufferPointer { buffer -> OpaquePointer? in
            var pointer: UnsafePointer<UInt8>? = buffer.baseAddress
            return d2i_TS_RESP(nil, &pointer, buffer.count)
        }
        guard let response else {
            throw OpenSSLError(call: "d2i_TS_RESP", message: "not a DER time-stamp response")
        }
        return response
    }

    /// Reads the TSTInfo; `authority` is the signer's subject when the caller knows it (its own
    /// TSA), which saves decoding the signer certificate again.
    static func info(_ tst: OpaquePointer, response: OpaquePointer, authority knownAuthority: String? = nil)
        -> TimeStampInfo
    {
        let time = TS_TST_INFO_get_time(tst)
        let genTime =
            time.map {
                String(cString: UnsafeRawPointer(ASN1_STRING_get0_data($0)).assumingMemoryBound(to: CChar.self))
            } ?? ""
        var serial = ""
        if let integer = TS_TST_INFO_get_serial(tst), let number = ASN1_INTEGER_to_BN(integer, nil) {
            if let hex = BN_bn2hex(number) {
                serial = String(cString: hex).lowercased()
                custos_openssl_free(hex)
            }
            BN_free(number)
        }
        var policy = ""
        if let object = TS_TST_INFO_get_policy_id(tst) {
            var buffer = [CChar](repeating: 0, count: 128)
            OBJ_obj2txt(&buffer, 128, object, 1)
            policy = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
        var accuracy: Int64?
        if let value = TS_TST_INFO_get_accuracy(tst) {
            let seconds = TS_ACCURACY_get_seconds(value).map { ASN1_INTEGER_get($0) } ?? 0
            let millis = TS_ACCURACY_get_millis(value).map { ASN1_INTEGER_get($0) } ?? 0
            let micros = TS_ACCURACY_get_micros(value).map { ASN1_INTEGER_get($0) } ?? 0
            accuracy = Int64(seconds) * 1000 + Int64(millis) + (Int64(micros) + 999) / 1000
        }
        var authority = knownAuthority ?? ""
        if knownAuthority == nil, let token = TS_RESP_get_token(response),
            let signers = PKCS7_get0_signers(token, nil, 0)
        {
            if custos_x509_stack_count(signers) > 0, let signer = custos_x509_stack_value(signers, 0) {
                X509_up_ref(signer)
                authority = Certificate(owning: signer).subject
            }
            custos_x509_stack_free_shallow(signers)
        }
        var seconds: Int64 = 0
        if let time {
            var tm = tm()
            if ASN1_TIME_to_tm(time, &tm) == 1 { seconds = Int64(timegm(&tm)) }
        }
        var imprint = [UInt8]()
        if let messageImprint = TS_TST_INFO_get_msg_imprint(tst), let message = TS_MSG_IMPRINT_get_msg(messageImprint),
            let data = ASN1_STRING_get0_data(message)
        {
            imprint = Array(UnsafeBufferPointer(start: data, count: Int(ASN1_STRING_length(message))))
        }
        return TimeStampInfo(
            genTime: genTime, genTimeSeconds: seconds, serial: serial, policy: policy,
            accuracyMilliseconds: accuracy, authority: authority, imprint: imprint)
    }

    /// Checks `response` against the `request` it answers, trusting `anchors` (and using
    /// `intermediates` to build the chain when the token lacks them). `now` is the local clock
    /// in seconds since the epoch.
    public static func check(
        response der: [UInt8], request: TimeStampRequest, anchors: [Certificate], intermediates: [Certificate] = [],
        now: Int64 = Int64(Date().timeIntervalSince1970)
    ) -> TimeStampCheck {
        var problems = [String]()
        let response: OpaquePointer
        do {
            response = try parse(der)
        } catch {
            return TimeStampCheck(info: nil, problems: ["not a DER time-stamp response"])
        }
        defer { TS_RESP_free(response) }
        let status = ASN1_INTEGER_get(TS_STATUS_INFO_get0_status(TS_RESP_get_status_info(response)))
        guard status == 0 || status == 1 else {
            let names = [2: "rejection", 3: "waiting", 4: "revocationWarning", 5: "revocationNotification"]
            return TimeStampCheck(
                info: nil, problems: ["the authority answered \(names[status] ?? "status \(status)")"])
        }
        guard let tst = TS_RESP_get_tst_info(response) else {
            return TimeStampCheck(info: nil, problems: ["the response holds no token"])
        }
        let info = info(tst, response: response)

        guard let requestHandle = try? request.make() else {
            return TimeStampCheck(info: info, problems: ["the request cannot be rebuilt"])
        }
        defer { TS_REQ_free(requestHandle) }
        // Imprint, nonce, version, signature, signer's ESS binding and chain, in one call.
        guard let context = TS_REQ_to_TS_VERIFY_CTX(requestHandle, nil), let store = X509_STORE_new() else {
            return TimeStampCheck(info: info, problems: ["cannot set up the verification"])
        }
        defer { TS_VERIFY_CTX_free(context) }
        for anchor in anchors { X509_STORE_add_cert(store, anchor.x509) }
        // The chain must be valid when the token was made, not only today.
        if let parameters = X509_STORE_get0_param(store) {
            X509_VERIFY_PARAM_set_time(parameters, time_t(info.genTimeSeconds))
        }
        TS_VERIFY_CTX_set_store(context, store)
        if !intermediates.isEmpty, let stack = custos_x509_stack_new() {
            for certificate in intermediates {
                X509_up_ref(certificate.x509)
                _ = custos_x509_stack_push(stack, certificate.x509)
            }
            _ = TS_VERIFY_CTX_set_certs(context, stack)
        }
        // Policy is not required to match: any policy of a trusted authority is accepted.
        let flags = TS_VFY_VERSION | TS_VFY_SIGNATURE | TS_VFY_SIGNER | TS_VFY_IMPRINT
        _ = TS_VERIFY_CTX_set_flags(context, Int32(flags | (request.nonce == nil ? 0 : TS_VFY_NONCE)))
        ERR_clear_error()
        if TS_RESP_verify_response(context, response) != 1 {
            let queue = OpenSSLError.drainQueue()
            var problem =
                "the token does not verify: " + (queue.isEmpty ? "unknown reason" : queue.joined(separator: "; "))
            if problem.contains("unsuitable certificate purpose") {
                problem += " (the signer's certificate lacks extendedKeyUsage=critical,timeStamping)"
            }
            problems.append(problem)
        }
        let accuracySeconds = ((info.accuracyMilliseconds ?? 0) + 999) / 1000
        if info.genTimeSeconds > now + accuracySeconds + 1 {
            problems.append("genTime \(info.genTime) is in the future of this node's clock")
        }
        return TimeStampCheck(info: info, problems: problems)
    }
}
