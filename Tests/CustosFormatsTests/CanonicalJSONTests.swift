import CustosFormats
import Testing

@Suite("RFC 8785 canonical JSON", .timeLimit(.minutes(2)))
struct CanonicalJSONTests {
    @Test func sortsByUTF16AndEscapesMinimally() {
        let value = JSONValue.object([
            "b": .integer(-12), "a": .string("é\u{1}\n\"\\/"), "\u{FB33}": .bool(true), "\u{1F600}": .null,
            "c": .array([.integer(0), .object([:])]),
        ])
        // U+1F600 is the surrogate pair D83D DE00, which sorts before U+FB33 in UTF-16 order.
        #expect(
            CanonicalJSON.encodeString(value)
                == "{\"a\":\"é\\u0001\\n\\\"\\\\/\",\"b\":-12,\"c\":[0,{}],\"\u{1F600}\":null,\"\u{FB33}\":true}")
    }

    @Test func parsesAndReencodes() throws {
        let text = #"{ "z" : [1, 2, {"y": "\u00e9\ud83d\ude00"}], "a": false }"#
        let value = try CanonicalJSON.parse(Array(text.utf8))
        #expect(CanonicalJSON.encodeString(value) == "{\"a\":false,\"z\":[1,2,{\"y\":\"é\u{1F600}\"}]}")
        #expect(!CanonicalJSON.isCanonical(Array(text.utf8)))
        #expect(CanonicalJSON.isCanonical(CanonicalJSON.encode(value)))
    }

    @Test(
        "strict parsing refuses",
        arguments: [
            #"{"a":1,"a":2}"#, "1.5", "1e3", "01", "[1,]", #"{"a" 1}"#, "\"\u{1}\"", #""\ud800""#, "[1] x",
            "99999999999999999", "",
        ])
    func refuses(text: String) {
        #expect(throws: FormatError.self) { try CanonicalJSON.parse(Array(text.utf8)) }
    }

    @Test func custodyEntryRoundTrip() throws {
        let entry = CustodyEntry(
            sequence: 7, type: .sealed, item: "i", time: "2026-11-25T05:00:00.000Z", node: "n", actor: "a",
            previous: .zero, details: ["size": .integer(3)])
        let bytes = entry.canonicalBytes
        #expect(try CustodyEntry(parsing: bytes) == entry)
        var edited = bytes
        edited.insert(0x20, at: 1)
        #expect(throws: FormatError.self) { try CustodyEntry(parsing: edited) }
    }
}

@Suite("canonical parsing refuses what is not canonical", .timeLimit(.minutes(2)))
struct CanonicalParsingTests {
    @Test(
        arguments: [
            #"{"b":1,"a":2}"#, #"{"a":1,"a":1}"#, #"{ "a":1}"#, #"{"a":-0}"#, #"{"a":"\/"}"#, #"{"a":"\u0041"}"#,
            #"{"a":"\u000A"}"#, #"{"a":"\u001F"}"#, "[1, 2]", #"{"a":01}"#,
        ])
    func refuses(text: String) {
        #expect(throws: FormatError.self) { try CanonicalJSON.parseCanonical(Array(text.utf8)) }
    }

    @Test(arguments: [#"{"a":"\u001f","b":[1,-2,{}],"c":"\n\"\\"}"#, #"[]"#, "{\"\u{1F600}\":1,\"\u{FB33}\":2}"])
    func accepts(text: String) throws {
        let value = try CanonicalJSON.parseCanonical(Array(text.utf8))
        #expect(CanonicalJSON.encodeString(value) == text)
    }

    @Test func objectsKeepCanonicalOrderAsTheyAreBuilt() {
        var object: JSONObject = ["z": .integer(1), "a": .integer(2)]
        object["m"] = .null
        object["a"] = nil
        #expect(object.keys == ["m", "z"])
        #expect(CanonicalJSON.encodeString(.object(object)) == #"{"m":null,"z":1}"#)
    }
}

@Suite("item identifiers", .timeLimit(.minutes(2)))
struct ItemIdentifierTests {
    @Test func uuidV7HasTheTimeVersionAndVariant() {
        let id = ItemIdentifier.uuidV7(milliseconds: 0x0190_1234_5678, random: Array(repeating: 0xff, count: 10))
        #expect(id == "01901234-5678-7fff-bfff-ffffffffffff")
        let earlier = ItemIdentifier.uuidV7(milliseconds: 1_000, random: Array(repeating: 0xff, count: 10))
        let later = ItemIdentifier.uuidV7(milliseconds: 1_001, random: Array(repeating: 0x00, count: 10))
        #expect(earlier < later)
    }
}

@Suite("shell words")
struct ShellWordTests {
    @Test(arguments: [
        ("plain", "'plain'"), ("", "''"), ("it's", #"'it'\''s'"#), ("a b;$(x)`y`", "'a b;$(x)`y`'"),
        ("''", #"''\'''\'''"#),
    ])
    func aTextIsOneQuotedWord(_ text: String, _ quoted: String) {
        #expect(ShellWord.quoted(text) == quoted)
    }
}
