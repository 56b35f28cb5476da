import VTScreen

/// Maps the colours a program asked for (default, 256-colour index, 24-bit) to what the
/// terminal has (8, 16 or 256 colours). Pure; the renderer caches the results per colour pair.
public struct ColorMapper: Sendable {
    /// Colours the terminal has (ncurses' COLORS): 8, 16, 88, 256...
    public let available: Int

    public init(available: Int) { self.available = available }

    /// -1 is the terminal's default colour.
    public func index(_ color: Color) -> Int {
        switch color {
        case .default: return -1
        case .indexed(let n):
            if Int(n) < available { return Int(n) }
            return nearest(ColorMapper.xterm256(Int(n)))
        case .rgb(let r, let g, let b):
            return nearest(RGB(r, g, b))
        }
    }

    /// The nearest colour the terminal has to `rgb`: in the 256-colour cube and grey ramp when
    /// there are 256, else among the 16 (or 8) ANSI colours.
    public func nearest(_ rgb: RGB) -> Int {
        if available >= 256 {
            // The cube and the ramp cover the space well; ANSI 0-15 vary by terminal theme.
            let cube = ColorMapper.cubeIndex(rgb)
            let grey = ColorMapper.greyIndex(rgb)
            return distance(rgb, ColorMapper.xterm256(cube)) <= distance(rgb, ColorMapper.xterm256(grey)) ? cube : grey
        }
        let n = available >= 16 ? 16 : 8
        var best = 0, bestDistance = Int.max
        for i in 0..<n {
            let d = distance(rgb, Theme.xtermPalette[i])
            if d < bestDistance { best = i; bestDistance = d }
        }
        return best
    }

    func distance(_ a: RGB, _ b: RGB) -> Int {
        // "Redmean" weighting: cheap and closer to perception than plain RGB distance.
        let rm = (Int(a.r) + Int(b.r)) / 2
        let dr = Int(a.r) - Int(b.r), dg = Int(a.g) - Int(b.g), db = Int(a.b) - Int(b.b)
        return (((512 + rm) * dr * dr) >> 8) + 4 * dg * dg + (((767 - rm) * db * db) >> 8)
    }

    static let cubeLevels: [Int] = [0, 95, 135, 175, 215, 255]

    static func cubeStep(_ v: UInt8) -> Int {
        let v = Int(v)
        if v < 48 { return 0 }
        if v < 115 { return 1 }
        return (v - 35) / 40
    }

    static func cubeIndex(_ c: RGB) -> Int { 16 + 36 * cubeStep(c.r) + 6 * cubeStep(c.g) + cubeStep(c.b) }

    static func greyIndex(_ c: RGB) -> Int {
        let average = (Int(c.r) + Int(c.g) + Int(c.b)) / 3
        if average < 8 { return 232 }
        return 232 + min(23, (average - 8) / 10)
    }

    /// The RGB value of xterm colour `n` (0-255).
    public static func xterm256(_ n: Int) -> RGB {
        if n < 16 { return Theme.xtermPalette[n] }
        if n < 232 {
            let i = n - 16
            return RGB(UInt8(cubeLevels[i / 36]), UInt8(cubeLevels[(i / 6) % 6]), UInt8(cubeLevels[i % 6]))
        }
        let v = UInt8(8 + 10 * (n - 232))
        return RGB(v, v, v)
    }
}

/// A foreground/background pair of terminal colour indices (-1 = default), the key of the
/// renderer's lazily allocated colour-pair cache.
public struct ColorPairKey: Hashable, Sendable {
    public var foreground: Int16
    public var background: Int16
    public init(_ foreground: Int, _ background: Int) {
        self.foreground = Int16(foreground); self.background = Int16(background)
    }
}

/// Lazily numbered colour pairs with a fixed capacity. Pure bookkeeping: `allocate` says which
/// number to initialise; once full, pairs fall back to the nearest 8-colour pair.
public struct ColorPairCache {
    public let capacity: Int
    private(set) var pairs: [ColorPairKey: Int] = [:]
    private var next: Int

    /// `reserved` numbers (1...reserved) are kept for the interface's own pairs.
    public init(capacity: Int, reserved: Int) {
        self.capacity = capacity
        next = reserved + 1
    }

    public var count: Int { pairs.count }

    /// The pair number for `key`, and whether it is new (the caller must `init_pair` it).
    /// Nil when no pair is left and the key is not cached.
    public mutating func lookup(_ key: ColorPairKey) -> (number: Int, isNew: Bool)? {
        if key.foreground == -1 && key.background == -1 { return (0, false) }
        if let n = pairs[key] { return (n, false) }
        guard next < capacity else { return nil }
        let n = next
        next += 1
        pairs[key] = n
        return (n, true)
    }

    /// An 8-colour approximation for when the cache is full.
    public static func fallback(_ key: ColorPairKey) -> ColorPairKey {
        func reduce(_ c: Int16) -> Int {
            if c < 0 { return -1 }
            if c < 8 { return Int(c) }
            if c < 16 { return Int(c) - 8 }
            return ColorMapper(available: 8).nearest(ColorMapper.xterm256(Int(c)))
        }
        return ColorPairKey(reduce(key.foreground), reduce(key.background))
    }
}
