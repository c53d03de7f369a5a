import COpenSSL

/// Random bytes from OpenSSL's generator (seeded by the kernel).
public enum SecureRandom {
    public static func bytes(_ count: Int) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        guard RAND_bytes(&bytes, Int32(count)) == 1 else { throw OpenSSLError(call: "RAND_bytes") }
        return bytes
    }
}
