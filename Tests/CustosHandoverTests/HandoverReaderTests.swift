@testable import CustosCustody
import CustosFileSystem
import CustosFormats
import CustosLedger
import CustosTestSupport
import CustosVault
import Foundation
import Glibc
import Testing

/// `receive`'s reader between its steps: what it checks and what it keeps are of one file.
@Suite("handover: the reader keeps what it checked", .timeLimit(.minutes(5)))
struct HandoverReaderTests {
    /// The handover file is opened once: when its name is given to another handover between the
    /// check of the documents and the copy of the archives, the archives still come from the
    /// file whose documents were checked.
    @Test func theArchivesAreTakenFromTheFileWhoseDocumentsWereChecked() throws {
        let nodes = try TwoNodes()
        let checkedRecords = try nodes.seal([3000])
        let (file, _) = try nodes.transfer(checkedRecords, name: "h.tar")
        let (other, _) = try nodes.transfer(try nodes.seal([4000]), name: "other.tar")
        let reader = try HandoverReader(vault: nodes.receiver.vault, file: file)
        let checked = try reader.check(try reader.readDocuments())
        #expect(rename(other.description, file.description) == 0)
        let archives = try reader.extractArchives(checked)
        defer { for archive in archives.values { FileSystem.remove(archive.temporary) } }
        #expect(Set(archives.keys) == Set(checkedRecords.map(\.sha256)))
        #expect(archives.values.map(\.archiveHash) == checkedRecords.map(\.archive))
    }

    /// What the vault keeps must be the bytes checked: a temporary whose name was given to other
    /// bytes (another sealed archive, itself valid) before it was placed is found out by reading
    /// the placed object back.
    @Test func anArchiveWhoseTemporaryWasReplacedIsNotTakenForTheOneChecked() throws {
        let nodes = try TwoNodes()
        let (file, _) = try nodes.transfer(try nodes.seal([3000, 5000]))
        let reader = try HandoverReader(vault: nodes.receiver.vault, file: file)
        let archives = try reader.extractArchives(try reader.check(try reader.readDocuments()))
        defer { for archive in archives.values { FileSystem.remove(archive.temporary) } }
        let vault = nodes.receiver.vault
        var placedChecked = 0
        var placedSwapped = 0
        let sorted = archives.sorted(by: { $0.key.hex < $1.key.hex })
        let swapped = sorted[1].value.temporary.description + ".swapped"
        #expect(try run("cp", [sorted[0].value.temporary.description, swapped]).status == 0)
        for (index, (content, archive)) in sorted.enumerated() {
            if index == 1 {
                #expect(rename(swapped, archive.temporary.description) == 0)
            }
            guard
                case .placed(let placed) = try vault.objects.place(
                    temporary: archive.temporary, as: .archive(content: content, compression: archive.compression),
                    durability: .immediate)
            else {
                Issue.record("the archive was in the vault already")
                continue
            }
            if try reader.placedHoldsTheBytesChecked(archive, as: placed) { placedChecked += 1 } else { placedSwapped += 1 }
        }
        #expect(placedChecked == 1 && placedSwapped == 1)
    }
}
