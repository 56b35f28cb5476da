import Glibc

/// C strings handed to libwebsockets for as long as its context lives (it keeps the pointers,
/// not copies): made once, freed together with their owner.
final class CStringPool {
    private var owned: [UnsafeMutablePointer<CChar>] = []

    func make(_ s: String) -> UnsafeMutablePointer<CChar> {
        let p = strdup(s)!
        owned.append(p)
        return p
    }

    deinit { owned.forEach { free($0) } }
}
