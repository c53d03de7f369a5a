import CustosFormats
import Foundation
import Testing

/// One representation of a compression: its names, suffixes, and a refusal of any other name.
@Suite struct CompressionTests {
    @Test func namesAndSuffixes() {
        #expect(Compression.names == "zstd, none, gzip, xz")
        #expect(Compression.choice == "zstd, none, gzip or xz")
        #expect(Compression.allCases.map(\.suffix) == [".tar.zst", ".tar", ".tar.gz", ".tar.xz"])
    }

    @Test func anUnknownNameIsRefusedNeverDefaulted() throws {
        let known = try JSONDecoder().decode([Compression].self, from: Data(#"["xz","none"]"#.utf8))
        #expect(known == [.xz, Compression.none])
        #expect {
            try JSONDecoder().decode([Compression].self, from: Data(#"["brotli"]"#.utf8))
        } throws: { error in
            "\(error)" == #"compression "brotli" is not one of zstd, none, gzip, xz"#
        }
    }
}
