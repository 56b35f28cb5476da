import XCTest
@testable import Hosting

final class FrameTests: XCTestCase {
    func sampleFrames() -> [Frame] {
        [
            .hello(ShimHello(profile: "p", agent: "a", shimPid: 42, logBytes: 7)),
            .output(offset: 0x0102_0304_0506_0708, bytes: [0, 1, 2, 0x1B, 0xFF]),
            .output(offset: 0, bytes: []),
            .event(line: "{\"type\":\"message\",\"text\":\"hi\"}\n"),
            .ack(ok: false, error: "nope"),
            .ack(ok: true),
            .subscribe(output: true, events: false),
            .input([0x03]),
            .paste("multi\nline ✓"),
            .control(.restart),
            .resize(rows: 50, cols: 0x1234),
            Frame(type: .input, payload: []),
        ]
    }

    func testEncodeLayout() {
        let f = Frame.resize(rows: 24, cols: 80)
        XCTAssertEqual(f.encode(), [20, 0, 0, 0, 4, 0, 24, 0, 80])
        let o = Frame.output(offset: 258, bytes: [0x41])
        XCTAssertEqual(o.encode(), [2, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 1, 2, 0x41])
    }

    func testRoundTripAccessors() throws {
        let frames = sampleFrames()
        var d = FrameDecoder()
        let decoded = try d.feed(frames.flatMap { $0.encode() })
        XCTAssertEqual(decoded, frames)
        XCTAssertEqual(d.bufferedByteCount, 0)

        XCTAssertEqual(try decoded[0].decodeHello(), ShimHello(profile: "p", agent: "a", shimPid: 42, logBytes: 7))
        let out = try decoded[1].decodeOutput()
        XCTAssertEqual(out.offset, 0x0102_0304_0506_0708)
        XCTAssertEqual(out.bytes, [0, 1, 2, 0x1B, 0xFF])
        XCTAssertEqual(try decoded[2].decodeOutput().bytes, [])
        XCTAssertEqual(try decoded[3].decodeEvent(), "{\"type\":\"message\",\"text\":\"hi\"}")
        XCTAssertEqual(try decoded[4].decodeAck(), Ack(ok: false, error: "nope"))
        XCTAssertEqual(try decoded[5].decodeAck(), Ack(ok: true, error: nil))
        XCTAssertEqual(try decoded[6].decodeSubscribe(), SubscribeRequest(output: true, events: false))
        XCTAssertEqual(try decoded[7].decodeInput(), [3])
        XCTAssertEqual(try decoded[8].decodePaste(), "multi\nline ✓")
        XCTAssertEqual(try decoded[9].decodeControl(), ControlRequest(op: .restart))
        let size = try decoded[10].decodeResize()
        XCTAssertEqual(size.rows, 50)
        XCTAssertEqual(size.cols, 0x1234)
    }

    func testWireJSONShapes() throws {
        let ack = String(decoding: Frame.ack(ok: true, error: "x").payload, as: UTF8.self)
        XCTAssertEqual(ack, #"{"error":"x","ok":true}"#)
        let ctl = String(decoding: Frame.control(.stop).payload, as: UTF8.self)
        XCTAssertEqual(ctl, #"{"op":"stop"}"#)
        let sub = String(decoding: Frame.subscribe(output: false, events: true).payload, as: UTF8.self)
        XCTAssertEqual(sub, #"{"events":true,"output":false}"#)
        // A hand-written client request decodes too.
        let f = Frame(type: .control, payload: Array(#"{"op":"status"}"#.utf8))
        XCTAssertEqual(try f.decodeControl().op, .status)
    }

    func testStateFrameRoundTrip() throws {
        let s = AgentState(profile: "p", agent: "a", kind: .goal, state: .running, shimPid: 1, agentPid: 2,
                           since: 1.5, logPath: "/l", eventsPath: "/e", socketPath: "/s", logBytes: 99)
        var d = FrameDecoder()
        let frames = try d.feed(Frame.state(s).encode())
        XCTAssertEqual(try frames.first?.decodeState(), s)
    }

    func testSplitAtEveryByteBoundary() throws {
        let frames = sampleFrames()
        let wire = frames.flatMap { $0.encode() }
        for cut in 0...wire.count {
            var d = FrameDecoder()
            var got = try d.feed(Array(wire[..<cut]))
            got += try d.feed(Array(wire[cut...]))
            XCTAssertEqual(got, frames, "cut at \(cut)")
            XCTAssertEqual(d.bufferedByteCount, 0)
        }
    }

    func testOneByteAtATime() throws {
        let frames = sampleFrames()
        let wire = frames.flatMap { $0.encode() }
        var d = FrameDecoder()
        var got: [Frame] = []
        for b in wire { got += try d.feed([b]) }
        XCTAssertEqual(got, frames)
    }

    func testPartialFrameIsHeld() throws {
        var d = FrameDecoder()
        let wire = Frame.input([1, 2, 3]).encode()
        XCTAssertEqual(try d.feed(Array(wire.dropLast())), [])
        XCTAssertEqual(d.bufferedByteCount, wire.count - 1)
        XCTAssertEqual(try d.feed([wire.last!]), [Frame.input([1, 2, 3])])
    }

    func testUnknownTypeIsAnError() {
        var d = FrameDecoder()
        XCTAssertThrowsError(try d.feed([6, 0, 0, 0, 0])) { error in
            XCTAssertEqual(error as? FrameError, .unknownType(6))
        }
        // The stream stays broken.
        XCTAssertThrowsError(try d.feed(Frame.input([1]).encode()))
    }

    func testOversizeIsAnErrorBeforePayloadArrives() {
        var d = FrameDecoder()
        let len = UInt32(Frame.maxPayload + 1)
        let header: [UInt8] = [2, UInt8(len >> 24), UInt8(len >> 16 & 0xFF), UInt8(len >> 8 & 0xFF), UInt8(len & 0xFF)]
        XCTAssertThrowsError(try d.feed(header)) { error in
            XCTAssertEqual(error as? FrameError, .payloadTooLarge(Frame.maxPayload + 1))
        }
    }

    func testExactlyMaxPayloadIsAccepted() throws {
        let f = Frame.input([UInt8](repeating: 7, count: Frame.maxPayload))
        var d = FrameDecoder()
        XCTAssertEqual(try d.feed(f.encode()).count, 1)
    }

    func testOutputFramesSplitLargeOutput() throws {
        let bytes = [UInt8](repeating: 1, count: Frame.maxPayload * 2)
        let frames = Frame.outputFrames(offset: 100, bytes: bytes)
        XCTAssertEqual(frames.count, 3)
        var next: UInt64 = 100
        var total = 0
        for f in frames {
            XCTAssertLessThanOrEqual(f.payload.count, Frame.maxPayload)
            let o = try f.decodeOutput()
            XCTAssertEqual(o.offset, next)
            next += UInt64(o.bytes.count)
            total += o.bytes.count
        }
        XCTAssertEqual(total, bytes.count)
    }

    func testAccessorErrors() {
        XCTAssertThrowsError(try Frame.input([1]).decodeOutput()) { e in
            XCTAssertEqual(e as? FrameError, .wrongType(expected: .output, actual: .input))
        }
        XCTAssertThrowsError(try Frame(type: .output, payload: [1, 2]).decodeOutput())
        XCTAssertThrowsError(try Frame(type: .resize, payload: [1, 2, 3]).decodeResize())
        XCTAssertThrowsError(try Frame(type: .control, payload: Array(#"{"op":"explode"}"#.utf8)).decodeControl())
        XCTAssertThrowsError(try Frame(type: .paste, payload: [0xFF]).decodePaste())
    }

    func testDirection() {
        XCTAssertTrue(FrameType.output.isServerToClient)
        XCTAssertFalse(FrameType.paste.isServerToClient)
        XCTAssertEqual(FrameType.allCases.map(\.rawValue), [1, 2, 3, 4, 5, 16, 17, 18, 19, 20])
    }
}
