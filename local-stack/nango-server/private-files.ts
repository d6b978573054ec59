import fs from 'node:fs';
import path from 'node:path';

// The store holds the Clari API key and password: nobody but its owner may read or list it.
const PRIVATE_DIR_MODE = 0o700;
const PRIVATE_FILE_MODE = 0o600;

function ignoreMissing(action: () => void): void {
    try {
        action();
    } catch (err) {
        // Postgres removes and recycles files (WAL segments, temp files) while we walk the tree.
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
            throw err;
        }
    }
}

/** Creates the folder (and missing parents) private to its owner, and makes an existing one private. */
export function ensurePrivateDir(dir: string): void {
    fs.mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
    fs.chmodSync(dir, PRIVATE_DIR_MODE);
}

/**
 * Makes every folder under `root` (itself included) 0700 and every file 0600. PGlite's file system layer
 * creates its files 0666 whatever the umask, so the modes have to be fixed after the fact; the 0700 root keeps
 * the files created in between out of reach meanwhile. Symbolic links are left alone (chmod would follow them).
 */
export function restrictToOwner(root: string): void {
    const visit = (entry: string): void => {
        ignoreMissing(() => {
            const stat = fs.lstatSync(entry);
            if (stat.isDirectory()) {
                if ((stat.mode & 0o777) !== PRIVATE_DIR_MODE) {
                    fs.chmodSync(entry, PRIVATE_DIR_MODE);
                }
                for (const name of fs.readdirSync(entry)) {
                    visit(path.join(entry, name));
                }
            } else if (stat.isFile() && (stat.mode & 0o777) !== PRIVATE_FILE_MODE) {
                fs.chmodSync(entry, PRIVATE_FILE_MODE);
            }
        });
    };
    visit(root);
}
