import CustosFormats
import CustosVault

extension Vault {
    /// The vault's own folders as the local driver keeps them: for tests that read or alter a
    /// vault's files by hand, as an intruder or a failing disk would.
    var local: LocalFolderObjectStore { LocalFolderObjectStore(vaultRoot: root) }

    /// The file of the stored archive of `content`, whatever its compression; nil when none.
    func archiveFile(content: Hash) -> RawPath? {
        (try? objects.findArchive(content: content)).map { local.path(of: $0) }
    }
}
