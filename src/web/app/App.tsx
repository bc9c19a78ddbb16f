// Hash routes keep every studio URL on `/`, so the server needs no catch-all beside the ComfyUI API:
// #/ the comics, #/p/<id> the editor, #/models the installed models.
import { useEffect, useState } from 'react';
import { ProjectList } from './projects/ProjectList.tsx';
import { Editor } from './editor/Editor.tsx';
import { ModelsPage } from './models/ModelsPage.tsx';

function useHash(): string {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const on = () => setHash(location.hash);
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  return hash;
}

export function App() {
  const hash = useHash();
  const project = /^#\/p\/([A-Za-z0-9_-]{1,64})$/.exec(hash);
  if (project) return <Editor key={project[1]} projectId={project[1]} />;
  if (hash === '#/models') return <ModelsPage />;
  return <ProjectList open={(id) => (location.hash = `#/p/${id}`)} />;
}
