import Foundation
import Testing

/// The test vectors kept in this target's `Vectors/` folder (a resource copied beside the tests).
/// A missing folder or file is an error that fails the test, never a reason to skip it.
enum Vectors {
    struct Missing: Error, CustomStringConvertible {
        var path: String
        var description: String { "the test vector \(path) is missing from the test resources" }
    }

    static var directory: URL {
        get throws {
            guard let url = Bundle.module.url(forResource: "Vectors", withExtension: nil) else {
                throw Missing(path: "Vectors/")
            }
            return url
        }
    }

    /// The JSON files under a folder of the vectors, sorted, as paths relative to it; none when the
    /// folder is missing, which `MerkleVectorTests.vectorCount` reports as a failure.
    static func files(under folder: String) -> [String] {
        guard let root = try? directory.appendingPathComponent(folder),
            let enumerator = FileManager.default.enumerator(atPath: root.path)
        else { return [] }
        return enumerator.compactMap { $0 as? String }.filter { $0.hasSuffix(".json") }.sorted()
    }

    static func load(_ folder: String, _ file: String) throws -> [String: Any] {
        let url = try directory.appendingPathComponent(folder).appendingPathComponent(file)
        guard let data = FileManager.default.contents(atPath: url.path) else { throw Missing(path: "\(folder)/\(file)") }
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any], "\(folder)/\(file)")
    }
}

@Suite("the test vectors are part of the repository", .timeLimit(.minutes(2)))
struct VectorSetTests {
    /// The files of a folder, relative to it, sorted.
    static func listing(_ root: URL) -> [String] {
        (FileManager.default.enumerator(atPath: root.path)?.compactMap { $0 as? String } ?? []).filter {
            var isDirectory: ObjCBool = false
            return FileManager.default.fileExists(atPath: root.appendingPathComponent($0).path, isDirectory: &isDirectory)
                && !isDirectory.boolValue
        }.sorted()
    }

    @Test func everyVectorAndItsProvenanceIsThere() throws {
        let files = Self.listing(try Vectors.directory)
        #expect(files.contains("README.md"))
        #expect(files.contains("go-sumdb/tlog-and-notes.json"))
        #expect(files.filter { $0.hasPrefix("transparency-dev-merkle/inclusion/") }.count > 80)
        #expect(files.filter { $0.hasPrefix("transparency-dev-merkle/consistency/") }.count > 90)
        // What the tests read is the copy kept beside this file, in the repository.
        let kept = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Vectors")
        #expect(Self.listing(kept) == files)
    }

    @Test func aMissingVectorIsAnError() {
        #expect(throws: Vectors.Missing.self) { try Vectors.load("go-sumdb", "no-such-vector.json") }
    }
}
