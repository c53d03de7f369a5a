@testable import CustosCustody
import CustosFileSystem
import CustosFormats
import CustosTestSupport
import Foundation
import Testing

/// The one way files leave the vault into a folder, between its steps.
@Suite("output folder: placing recorded files", .timeLimit(.minutes(1)))
struct OutputFolderTests {
    /// An export is recorded, then its files take their names one by one. When one name was
    /// taken meanwhile, the files after it are still placed, and the error names the one not
    /// placed and the temporary that keeps its bytes: nothing recorded is silently missing.
    @Test func everyRecordedFileIsPlacedOrNamedWithWhereItsBytesAreKept() throws {
        let directory = TemporaryDirectory("output-folder")
        let output = try OutputFolder(RawPath(directory.file("out")))
        let contents = ["a.tsr": "first\n", "b.tsr": "second\n", "VERIFY.txt": "third\n"]
        let names = ["a.tsr", "b.tsr", "VERIFY.txt"]
        let written = try names.enumerated().map { index, name in
            try output.write(Array(contents[name]!.utf8), label: "export-\(index)")
        }
        _ = try directory.write("out/b.tsr", "someone else's\n")
        let error = try #require(throws: CustodyError.self) {
            try output.placeAll(
                zip(written, names).map { (written: $0.0, name: Array($0.1.utf8)) }, recorded: "the export (entry 7)")
        }
        #expect(error.code == .exists)
        let kept = output.path(of: written[1].temporary)
        #expect(error.description.contains("1 of its 3 files"), "\(error)")
        #expect(error.description.contains(output.path(of: Array("b.tsr".utf8)).description), "\(error)")
        #expect(error.description.contains("kept as \(kept)"), "\(error)")
        #expect(!error.description.contains("VERIFY.txt"), "only the file not placed is named: \(error)")
        #expect(try FileSystem.readFile(RawPath(directory.file("out/a.tsr"))) == Array("first\n".utf8))
        #expect(try FileSystem.readFile(RawPath(directory.file("out/VERIFY.txt"))) == Array("third\n".utf8))
        #expect(try FileSystem.readFile(RawPath(directory.file("out/b.tsr"))) == Array("someone else's\n".utf8))
        #expect(try FileSystem.readFile(kept) == Array("second\n".utf8))
    }
}
