import CustosFileSystem
import CustosFormats

/// What to seal and the acquisition metadata the handler gives with it.
public struct SealRequest: Sendable {
    public var path: RawPath
    public var caseID: String
    public var acquisition: Acquisition
    /// Where the request came from when the daemon made it: the path under the inbox and the
    /// sidecar files read for it. Nil for `custos ingest`.
    public var inbox: InboxSource?
    /// Refuse a file that another process still holds open for writing (the daemon's check that
    /// an upload has finished), where the kernel can tell.
    public var requireClosed: Bool
    /// For a file from outside the vault's keeping (the daemon's inbox): the folder it is opened
    /// below and its components there, resolved without following any link (`path` is then only
    /// for messages and the manifest). Nil: `path` is opened as given, its last component not
    /// followed (`custos ingest`, where the examiner names the file).
    public var confined: (directory: ConfinedDirectory, components: [[UInt8]])?
    /// For bytes sent to the daemon's socket (`custos ingest` through the daemon): who sent
    /// them and what the sender declared of its file. The bytes are read from `confined` (the
    /// upload's temporary in the vault); `path` is the sender's path.
    public var upload: UploadSource?

    public init(
        path: RawPath, caseID: String = "", acquisition: Acquisition = Acquisition(), inbox: InboxSource? = nil,
        requireClosed: Bool = false, confined: (directory: ConfinedDirectory, components: [[UInt8]])? = nil
    ) {
        self.confined = confined
        self.path = path
        self.caseID = caseID
        self.acquisition = acquisition
        self.inbox = inbox
        self.requireClosed = requireClosed
    }

    public init(
        path: RawPath, caseID: String = "", exhibit: String = "", examiner: String = "", description: String = ""
    ) {
        self.init(
            path: path, caseID: caseID,
            acquisition: Acquisition(exhibit: exhibit, examiner: examiner, description: description))
    }

    public var exhibit: String { acquisition.exhibit }
}

/// Acquisition metadata: what the handler knows of where the evidence came from. Recorded in the
/// manifest, which the ledger entry commits to.
public struct Acquisition: Sendable, Equatable {
    public var exhibit = ""
    public var examiner = ""
    public var description = ""
    public var seizurePlace = ""
    /// As the handler wrote it (RFC 3339 recommended).
    public var seizureTime = ""
    public var deviceMake = ""
    public var deviceModel = ""
    public var deviceSerial = ""

    public init(
        exhibit: String = "", examiner: String = "", description: String = "", seizurePlace: String = "",
        seizureTime: String = "", deviceMake: String = "", deviceModel: String = "", deviceSerial: String = ""
    ) {
        self.exhibit = exhibit
        self.examiner = examiner
        self.description = description
        self.seizurePlace = seizurePlace
        self.seizureTime = seizureTime
        self.deviceMake = deviceMake
        self.deviceModel = deviceModel
        self.deviceSerial = deviceSerial
    }

    var json: JSONObject {
        [
            "exhibit": .string(exhibit), "examiner": .string(examiner), "description": .string(description),
            "seizure": .object(["place": .string(seizurePlace), "time": .string(seizureTime)]),
            "device": .object([
                "make": .string(deviceMake), "model": .string(deviceModel), "serial": .string(deviceSerial),
            ]),
        ]
    }
}

/// Bytes sent to the daemon's socket: the sender as the kernel named it, and its file as its
/// `fstat` saw it. The manifest records the declared file's facts as the original's (its path,
/// mode, owner, times) and says they are declared; the size and the digests are of the bytes
/// received.
public struct UploadSource: Sendable {
    public var original: FileStatus
    /// The sending account and its process, as the kernel named them at the socket.
    public var account: String
    public var uid: UInt32
    public var pid: Int32

    public init(original: FileStatus, account: String, uid: UInt32, pid: Int32) {
        self.original = original
        self.account = account
        self.uid = uid
        self.pid = pid
    }
}

/// Where in the inbox a file was found, and the sidecar files whose metadata it carries.
public struct InboxSource: Sendable, Equatable {
    /// The path under the inbox, byte-exact (`<case>/<…>/<name>`).
    public var relativePath: [UInt8]
    /// Each sidecar read, nearest last: its path under the inbox and the SHA-256 of its bytes.
    public var sidecars: [(path: [UInt8], sha256: Hash)]

    public init(relativePath: [UInt8], sidecars: [(path: [UInt8], sha256: Hash)] = []) {
        self.relativePath = relativePath
        self.sidecars = sidecars
    }

    public static func == (lhs: InboxSource, rhs: InboxSource) -> Bool {
        lhs.relativePath == rhs.relativePath && lhs.sidecars.map(\.path) == rhs.sidecars.map(\.path)
            && lhs.sidecars.map(\.sha256) == rhs.sidecars.map(\.sha256)
    }
}

/// Who and where the seal is made: recorded in the manifest.
public struct SealingContext: Sendable {
    public var host: String
    public var operatorName: String
    public var operatorUID: UInt32
    public var tool: String
    /// The actor as a details document keeps it, when the kernel named it (a socket caller):
    /// the manifest keeps it beside the operator (a seal has no details document).
    public var verifiedActor: JSONObject?

    public init(
        host: String, operatorName: String, operatorUID: UInt32, tool: String, verifiedActor: JSONObject? = nil
    ) {
        self.host = host
        self.operatorName = operatorName
        self.operatorUID = operatorUID
        self.tool = tool
        self.verifiedActor = verifiedActor
    }
}
