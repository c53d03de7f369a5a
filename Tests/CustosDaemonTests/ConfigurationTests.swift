import CustosFileSystem
import CustosFormats
import CustosTimeStamping
import CustosDaemon
import CustosSealing
import Testing

@Suite("daemon configuration and sidecars", .timeLimit(.minutes(2)))
struct ConfigurationTests {
    let vault = RawPath("/srv/custos/vault")

    func load(_ text: String?, environment: [String: String] = [:]) throws -> DaemonConfiguration {
        try DaemonConfiguration.load(
            vault: vault, file: text == nil ? nil : RawPath("/srv/custos/vault/custos-daemon.yaml"), fileText: text,
            environment: environment)
    }

    func refusal(_ text: String?, environment: [String: String] = [:]) -> String {
        do {
            _ = try load(text, environment: environment)
            return "accepted"
        } catch {
            return "\(error)"
        }
    }

    @Test func theDefaultsPutSealedAndRejectedBesideTheInbox() throws {
        let configuration = try load(nil)
        #expect(configuration.inbox == RawPath("/srv/custos/vault/inbox"))
        #expect(configuration.sealed == RawPath("/srv/custos/vault/sealed"))
        #expect(configuration.rejected == RawPath("/srv/custos/vault/rejected"))
        #expect(configuration.release == .move && configuration.settleSeconds == 2 && configuration.workers == 4)
        let moved = try load("inbox: /data/drop/inbox/\n")
        #expect(moved.inbox == RawPath("/data/drop/inbox") && moved.sealed == RawPath("/data/drop/sealed"))
    }

    @Test func theFileThenTheEnvironmentSetValues() throws {
        let configuration = try load(
            """
            # A bureau's settings
            inbox: evidence/in
            release: delete
            settle-seconds: 0.5
            workers: 2
            digests: [sha256, md5]
            compression: none
            """, environment: ["CUSTOS_WORKERS": "8", "CUSTOS_RESCAN_SECONDS": "30"])
        #expect(configuration.inbox == RawPath("/srv/custos/vault/evidence/in"))
        #expect(configuration.release == .delete && configuration.settleSeconds == 0.5)
        #expect(configuration.workers == 8 && configuration.rescanSeconds == 30)
        #expect(configuration.md5 == true && configuration.sha1 == false)
        #expect(configuration.compression == Compression.none)
    }

    @Test(arguments: [
        ("workers: 0\n", "custos-daemon.yaml:1: workers: must be a whole number from 1 to 64, not \"0\""),
        ("release: move\nrelease: delete\n", "custos-daemon.yaml:2: release: given twice"),
        (
            "\n\nsettle-seconds: -1\n",
            "custos-daemon.yaml:3: settle-seconds: must be a number of seconds from 0 to 3600"
        ),
        ("release: keep\n", "custos-daemon.yaml:1: release: must be move or delete, not \"keep\""),
        ("digests: md5\n", "custos-daemon.yaml:1: digests: must list sha256"),
        // An unknown compression is refused by name, never replaced by a default.
        ("compression: brotli\n", "custos-daemon.yaml:1: compression: must be zstd, none, gzip or xz, not \"brotli\""),
        // A bracket left open is named on the line that opened it, not at the end of the file.
        ("inbox: [a\n", "custos-daemon.yaml:1: not valid YAML"),
        ("- inbox\n", "custos-daemon.yaml:1: must be a mapping"),
        ("colour: yes\n", "custos-daemon.yaml:1: colour: unknown setting"),
        ("sealed: inbox/done\n", "sealed (/srv/custos/vault/inbox/done) must not be inside inbox"),
        ("rejected: sealed\n", "sealed (/srv/custos/vault/sealed) must not be the same folder as rejected"),
        // The vault itself, what holds it, and its own state are never an inbox, sealed/ or rejected/.
        ("inbox: .\n", "inbox (/srv/custos/vault/.) must not be the vault itself"),
        ("inbox: /srv/custos/vault/\n", "inbox (/srv/custos/vault) must not be the vault itself"),
        ("inbox: /srv\n", "inbox (/srv) must not hold the vault"),
        ("inbox: /\n", "inbox (/) must not hold the vault"),
        ("inbox: keys/in\n", "inbox (/srv/custos/vault/keys/in) must not lie inside the vault's own keys"),
        ("inbox: inbox/../objects\n", "must not lie inside the vault's own objects"),
        ("sealed: manifests\n", "sealed (/srv/custos/vault/manifests) must not lie inside the vault's own manifests"),
        ("rejected: tmp/rejected\n", "must not lie inside the vault's own tmp"),
        ("rejected: ledger.sqlite\n", "must not lie inside the vault's own ledger.sqlite"),
        (
            "timestamp-authorities:\n  a:\n    url: https://tsa.example/\n    anchors: a.pem\n",
            "custos-daemon.yaml:3: timestamp-authorities.a.url: must be an http:// URL"
        ),
        (
            "timestamp-authorities:\n  a:\n    url: http://tsa.example/\n",
            "custos-daemon.yaml:3: timestamp-authorities.a: needs both url and anchors"
        ),
        (
            "timestamp-authorities:\n  Node:\n    url: http://tsa.example/\n",
            "custos-daemon.yaml:3: timestamp-authorities.Node.url: an authority's name is 1 to 32 lower-case"
        ),
        (
            "timestamp-authorities:\n  node:\n    url: http://tsa.example/\n",
            "and not \"node\""
        ),
        (
            "timestamp-authorities:\n  a:\n    colour: red\n",
            "custos-daemon.yaml:3: timestamp-authorities.a.colour: an external authority is set as"
        ),
        (
            "timestamp-authorities: http://tsa.example/\n",
            "custos-daemon.yaml:1: timestamp-authorities: an external authority is set as"
        ),
        (
            "timestamp-authorities:\n  a:\n    url: http://tsa.example/\n    anchors: a.pem\n    timeout-seconds: 0\n",
            "custos-daemon.yaml:5: timestamp-authorities.a.timeout-seconds: must be a number of seconds from 0.1 to 300"
        ),
        ("timestamp-skew-seconds: -5\n", "timestamp-skew-seconds: must be a number of seconds from 0 to 86400"),
        ("timestamp-alarm-seconds: 0\n", "timestamp-alarm-seconds: must be a number of seconds from 1"),
    ])
    func aBadSettingIsRefusedWithItsLineAndReason(_ text: String, _ expected: String) {
        let message = refusal(text)
        #expect(message.contains(expected), "\(message)")
    }

    @Test func externalAuthoritiesAreNamedWithTheirURLAnchorsAndTimeout() throws {
        let configuration = try load(
            """
            timestamp-authorities:
              bureau-tsa:
                url: http://tsa.bureau.example/rfc3161
                anchors: /etc/custos/bureau-root.pem
                timeout-seconds: 4
              second:
                url: http://tsa2.example:8080/
                anchors: anchors/second.pem
            timestamp-alarm-seconds: 600
            timestamp-skew-seconds: 2
            """, environment: ["CUSTOS_TIMESTAMP_RETRY_SECONDS": "15"])
        let authorities = configuration.timeStampAuthorities
        #expect(authorities.map(\.name) == ["bureau-tsa", "second"])
        #expect(authorities[0].url == "http://tsa.bureau.example/rfc3161" && authorities[0].timeoutSeconds == 4)
        #expect(authorities[0].anchors == RawPath("/etc/custos/bureau-root.pem"))
        #expect(authorities[1].anchors == RawPath("/srv/custos/vault/anchors/second.pem"))
        #expect(authorities[1].timeoutSeconds == 10)
        #expect(configuration.timeStampAlarmSeconds == 600 && configuration.timeStampSkewSeconds == 2)
        #expect(configuration.timeStampRetrySeconds == 15)
        #expect(configuration.summary.contains { $0.0 == "timestamp-authorities.second" })
        let defaults = try load(nil)
        #expect(defaults.timeStampAuthorities.isEmpty && defaults.timeStampAlarmSeconds == 3600)
    }

    @Test func aBadEnvironmentValueIsRefusedByName() {
        #expect(
            refusal(nil, environment: ["CUSTOS_SETTLE_SECONDS": "soon"]).contains(
                "environment variable CUSTOS_SETTLE_SECONDS: must be a number of seconds"))
    }

    @Test func aSidecarGivesAcquisitionFieldsAsWritten() throws {
        let sidecar = try Sidecar(
            bytes: Array(
                """
                exhibit: 007
                examiner: 王小明
                seizure:
                  place: 臺北市
                  time: 2026-11-20T14:30:00+08:00
                device: {make: Lenovo, serial: PF-1}
                """.utf8), file: "x.custos.yaml")
        var acquisition = Acquisition(description: "kept")
        sidecar.apply(to: &acquisition)
        #expect(acquisition.exhibit == "007")  // Not the number 7: values are taken as written.
        #expect(acquisition.examiner == "王小明" && acquisition.seizurePlace == "臺北市")
        #expect(acquisition.seizureTime == "2026-11-20T14:30:00+08:00" && acquisition.deviceMake == "Lenovo")
        #expect(acquisition.deviceSerial == "PF-1" && acquisition.description == "kept")
        #expect(Sidecar.isSidecarName(Array("disk.img.custos.yaml".utf8)))
        #expect(!Sidecar.isSidecarName(Array(".custos.yaml".utf8)))
    }

    @Test(arguments: [
        ("exhibit: A\nexaminr: B\n", "x.custos.yaml:2: examinr: unknown field"),
        ("seizure:\n  time: last Tuesday\n", "x.custos.yaml:2: seizure.time: must be an RFC 3339"),
        ("seizure:\n  time: 2026-02-30T10:00:00Z\n", "seizure.time: must be an RFC 3339"),
        ("description: \"two\\nlines\"\n", "x.custos.yaml:1: description: must be one line"),
        // A value is one text: a list is refused with its line, not stored as "A-1,A-2".
        ("examiner: B\nexhibit: [A-1, A-2]\n", "x.custos.yaml:2: exhibit: a value must be a single text"),
        ("device:\n  make: L\n  serial:\n    - S1\n    - S2\n", "x.custos.yaml:3: device.serial: a value must be"),
        // The line of the error, not the end of the file: an unclosed quote on line 2 of 5.
        ("exhibit: A-1\nexaminer: \"Wang\ndescription: disk\nseizure:\n  place: x\n", "x.custos.yaml:2: not valid"),
        ("exhibit: A-1\ndevice: {make: L, serial: S\ndescription: disk\n", "x.custos.yaml:2: not valid YAML"),
        // A key given twice in a nested mapping: its second line, not another mapping's same key.
        (
            "seizure:\n  place: a\ndevice:\n  make: L\n  serial: S1\n  model: M\n  serial: S2\n",
            "x.custos.yaml:7: serial: given twice"
        ),
        ("seizure:\n  place: a\ndevice:\n  place: b\n  place: c\n", "x.custos.yaml:5: place: given twice"),
    ])
    func aBadSidecarIsRefusedWithItsLine(_ text: String, _ expected: String) {
        do {
            _ = try Sidecar(bytes: Array(text.utf8), file: "x.custos.yaml")
            Issue.record("accepted")
        } catch {
            #expect("\(error)".contains(expected), "\(error)")
        }
    }

    @Test func aSidecarThatIsNotUTF8IsRefused() {
        #expect(throws: ConfigurationError.self) { try Sidecar(bytes: [0x65, 0x3a, 0x20, 0xff], file: "x") }
    }

    @Test(arguments: [
        ("2026-11-20T14:30:00+08:00", true), ("2026-11-20T06:30:00.123Z", true), ("2024-02-29T00:00:00Z", true),
        ("2023-02-29T00:00:00Z", false), ("2026-11-20 14:30", false), ("2026-13-01T00:00:00Z", false),
        ("2026-11-20T14:30:00", false), ("2026-11-20T24:00:00Z", false),
    ])
    func rfc3339DateTimes(_ text: String, _ valid: Bool) {
        #expect(RFC3339.isValid(text) == valid)
    }
}
