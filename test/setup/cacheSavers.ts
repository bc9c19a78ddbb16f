// Every test ends with no compile-cache saver of its own still running (runtime/deferredSave.ts): a detached
// saver that is still writing into a test's temporary cache folder makes the folder's removal in afterAll
// fail (ENOTEMPTY). Commands and servers the tests start as processes get the same guarantee from
// INKFLOW_CACHE_SAVE=wait (vitest.config.ts), which their exit paths honour.
import { afterEach } from 'vitest';
import { flushCompileCache } from '../../src/runtime/compileStaging.ts';

afterEach(() => flushCompileCache({ untilSaved: true }));
