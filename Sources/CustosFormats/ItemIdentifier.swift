/// Item identifiers: UUID version 7 (RFC 9562), whose first 48 bits are the Unix time in
/// milliseconds. Ids made one after the other sort in the order they were made, so the ledger's
/// index of ids grows at its end instead of at random places.
public enum ItemIdentifier {
    /// The id for `milliseconds` since the Unix epoch and ten random bytes.
    public static func uuidV7(milliseconds: UInt64, random: [UInt8]) -> String {
        precondition(random.count >= 10, "a UUIDv7 needs ten random bytes")
        var bytes = [UInt8](repeating: 0, count: 16)
        for index in 0..<6 { bytes[index] = UInt8(truncatingIfNeeded: milliseconds >> (8 * (5 - index))) }
        for index in 6..<16 { bytes[index] = random[index - 6] }
        bytes[6] = 0x70 | (bytes[6] & 0x0f)  // version 7
        bytes[8] = 0x80 | (bytes[8] & 0x3f)  // RFC 9562 variant
        let hex = Hex.encode(bytes)
        let parts = [
            hex.prefix(8), hex.dropFirst(8).prefix(4), hex.dropFirst(12).prefix(4), hex.dropFirst(16).prefix(4),
            hex.dropFirst(20),
        ]
        return parts.joined(separator: "-")
    }
}
