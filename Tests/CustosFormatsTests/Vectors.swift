import Foundation

/// Finds `../shared/vectors` beside the repository (CI lays `shared/` beside its clone).
enum Vectors {
    static let directory: URL? = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        let vectors = url.deletingLastPathComponent().appendingPathComponent("shared/vectors")
        return FileManager.default.fileExists(atPath: vectors.path) ? vectors : nil
    }()

    static var available: Bool { directory != nil }

    /// The JSON files under a folder of the vectors, sorted, as paths relative to it.
    static func files(under folder: String) -> [String] {
        guard let root = directory?.appendingPathComponent(folder),
            let enumerator = FileManager.default.enumerator(atPath: root.path)
        else { return [] }
        return enumerator.compactMap { $0 as? String }.filter { $0.hasSuffix(".json") }.sorted()
    }

    static func load(_ folder: String, _ file: String) throws -> [String: Any] {
        let url = directory!.appendingPathComponent(folder).appendingPathComponent(file)
        return try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
    }
}
