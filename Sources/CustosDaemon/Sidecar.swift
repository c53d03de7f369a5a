import CustosFileSystem
import CustosFormats
import CustosSealing

/// Acquisition metadata dropped beside the evidence: `NAME.custos.yaml` describes `NAME`, a file
/// or a folder (a case folder's sidecar, `inbox/<case>.custos.yaml`, describes every file of the
/// case). For a file, every sidecar from its case down to its own applies, the nearest winning
/// field by field.
///
/// ```yaml
/// exhibit: "A-0042"
/// examiner: 王小明
/// description: Seized laptop's disk image
/// seizure:
///   place: 臺北市中正區重慶南路一段 2 號
///   time: 2026-11-20T14:30:00+08:00
/// device:
///   make: Lenovo
///   model: ThinkPad X1
///   serial: PF-123456
/// ```
public struct Sidecar: Sendable, Equatable {
    /// The suffix that makes a name a sidecar (such files are read, never sealed themselves).
    public static let suffix: [UInt8] = Array(".custos.yaml".utf8)
    /// A sidecar is small; a larger one is refused.
    public static let maximumSize = 64 * 1024

    static let fields = [
        "exhibit", "examiner", "description", "seizure.place", "seizure.time", "device.make", "device.model",
        "device.serial",
    ]

    /// The fields given, by dotted key.
    public var values: [String: String] = [:]

    public static func isSidecarName(_ name: [UInt8]) -> Bool {
        name.count > suffix.count && name.suffix(suffix.count).elementsEqual(suffix)
    }

    /// The sidecar's name for `name`.
    public static func name(for name: [UInt8]) -> [UInt8] { name + suffix }

    /// Parses a sidecar's bytes; `file` names it in errors.
    public init(bytes: [UInt8], file: String) throws(ConfigurationError) {
        guard bytes.count <= Self.maximumSize else {
            throw ConfigurationError(file: file, line: nil, "is larger than \(Self.maximumSize / 1024) KiB")
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw ConfigurationError(file: file, line: nil, "is not UTF-8 text")
        }
        let settings = try SettingsFile(name: file, text: text, listsAllowed: false)
        for value in settings.values {
            guard Self.fields.contains(value.key) else {
                throw ConfigurationError(
                    file: file, line: value.line,
                    "\(value.key): unknown field (known: \(Self.fields.joined(separator: ", ")))")
            }
            guard value.text.unicodeScalars.allSatisfy({ !DisplayName.isInvisibleOrControl($0) || $0 == " " }),
                value.text.utf8.count <= 4096
            else {
                throw ConfigurationError(
                    file: file, line: value.line,
                    "\(value.key): must be one line of printable text, at most 4,096 bytes")
            }
            values[value.key] = value.text
        }
        if let time = values["seizure.time"], !time.isEmpty, !RFC3339.isValid(time) {
            throw ConfigurationError(
                file: file, line: settings.values.first { $0.key == "seizure.time" }?.line,
                "seizure.time: must be an RFC 3339 date and time with its offset (2026-11-20T14:30:00+08:00), not \"\(time)\""
            )
        }
    }

    /// Applies these fields over `acquisition`.
    public func apply(to acquisition: inout Acquisition) {
        for (key, value) in values {
            switch key {
            case "exhibit": acquisition.exhibit = value
            case "examiner": acquisition.examiner = value
            case "description": acquisition.description = value
            case "seizure.place": acquisition.seizurePlace = value
            case "seizure.time": acquisition.seizureTime = value
            case "device.make": acquisition.deviceMake = value
            case "device.model": acquisition.deviceModel = value
            case "device.serial": acquisition.deviceSerial = value
            default: break
            }
        }
    }
}
