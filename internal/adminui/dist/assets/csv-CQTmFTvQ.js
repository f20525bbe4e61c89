function r(t){let e=t==null?"":String(t);return/^[=+\-@\t\r]/.test(e)&&(e="'"+e),/[",\r\n]/.test(e)?`"${e.replace(/"/g,'""')}"`:e}function a(t,e){return"\uFEFF"+[t,...e].map(o=>o.map(r).join(",")).join(`\r
`)+`\r
`}function l(t,e,o="text/csv;charset=utf-8"){const c=URL.createObjectURL(new Blob([e],{type:o})),n=document.createElement("a");n.href=c,n.download=t,document.body.appendChild(n),n.click(),n.remove(),setTimeout(()=>URL.revokeObjectURL(c),1e3)}export{l as d,a as t};
