export function renderTables(actionYaml: string): string
export function updateReadme(readme: string, root: string): string
export function actionNames(root: string): string[]
